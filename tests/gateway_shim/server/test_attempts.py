"""The attempt loop every door shares (`gateway_shim/server/attempts.py`), on the real core: which
targets are called, what each failure is recorded as, what comes back when none answers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.core import Gateway
from gateway_shim.server.attempts import first_answer, record_answer
from gateway_shim.server.metrics import Metrics
from gateway_shim.types import Plan, RequestContext, Target
from gateway_shim.upstream.base import UpstreamError

DEMO = load_config(DEMO_CONFIG)
UNEXPECTED = "provider %s failed unexpectedly"


def _plan() -> tuple[Gateway, Plan]:
    gateway = Gateway(DEMO, gateway_id="gw-test", emit=lambda event: None)
    ctx = RequestContext(api_key="demo-acme", messages=[{"role": "user", "content": "Two lines, please."}],
                         received_at=int(time.time() * 1_000_000), app_id="checkout-assistant",
                         latency_class="interactive")
    plan = gateway.admit(ctx, time.monotonic())
    assert isinstance(plan, Plan), plan
    assert len(plan.targets) >= 2, plan.targets
    return gateway, plan


class Upstream:
    """A `Send` that answers from a script: one outcome per call, an exception is raised."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[Target, float, str]] = []

    async def __call__(self, plan: Plan, target: Target, timeout_s: float, request: str) -> object:
        self.calls.append((target, timeout_s, request))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_a_failed_call_is_recorded_and_the_next_target_answers() -> None:
    gateway, plan = _plan()
    upstream = Upstream(UpstreamError("connect", 0, "refused"), "the answer")
    answered = asyncio.run(first_answer(gateway, Metrics(), plan, upstream, "req", UNEXPECTED))
    assert not isinstance(answered, float)
    answer, target, call_start, upstream_s = answered
    assert (answer, target) == ("the answer", plan.targets[1])
    assert [call[0] for call in upstream.calls] == list(plan.targets[:2])
    assert all(0 < timeout_s <= t.timeout_s and request == "req" for t, timeout_s, request in upstream.calls)
    assert (plan.attempts, plan.last_failure, plan.fallback_reason) == (1, "connect", "connect")
    assert 0 <= upstream_s < 5
    assert record_answer(gateway, plan, target, call_start) >= 0
    assert (plan.attempts, plan.served) == (2, plan.targets[1])


def test_when_no_target_answers_the_seconds_upstream_come_back() -> None:
    gateway, plan = _plan()
    failures = [UpstreamError("error", 400, "bad request") for _ in plan.targets]
    upstream = Upstream(*failures)
    answered = asyncio.run(first_answer(gateway, Metrics(), plan, upstream, "req", UNEXPECTED))
    assert isinstance(answered, float) and answered >= 0
    assert len(upstream.calls) == plan.attempts == len(plan.targets)
    assert gateway.exhausted(plan).status == 502


def test_an_adapter_bug_is_logged_counted_and_only_a_failed_attempt(caplog: pytest.LogCaptureFixture) -> None:
    gateway, plan = _plan()
    metrics = Metrics()
    upstream = Upstream(RuntimeError("a bug in the adapter"), "the answer")
    with caplog.at_level(logging.ERROR, logger="aigw.server"):
        answered = asyncio.run(first_answer(gateway, metrics, plan, upstream, "req", UNEXPECTED))
    assert not isinstance(answered, float) and answered[0] == "the answer"
    assert metrics.handler_errors == 1
    assert (plan.attempts, plan.last_failure) == (1, "error")
    assert any(record.getMessage() == UNEXPECTED % plan.targets[0].provider and record.exc_info
               for record in caplog.records)
