"""Same-target retries: the pure backoff decision, and the core pointing the chain back at a target."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.routing.retry import MIN_CALL_S, is_retryable, retry_delay
from gateway_shim.types import AttemptResult, Plan, RequestContext

OK = AttemptResult.success()


@pytest.mark.parametrize(("result", "retryable"), [
    (AttemptResult.failure("throttle", 429), True),
    (AttemptResult.failure("outage", 503), True),
    (AttemptResult.failure("outage", None), True),   # the connection dropped before any byte
    (AttemptResult.failure("error", 500), True),
    (AttemptResult.failure("error", 502), True),
    (AttemptResult.failure("error", 400), False),
    (AttemptResult.failure("error", None), False),
    (AttemptResult.failure("timeout", None), False),
    (AttemptResult.failure("connect", None), False),
    (OK, False),
])
def test_which_failures_are_retried(result: AttemptResult, retryable: bool) -> None:
    assert is_retryable(result) is retryable


def test_full_jitter_stays_under_the_capped_exponential() -> None:
    rng = random.Random(1)
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (8, 1.0)):
        delays = [retry_delay(retry, 0.1, 1.0, None, 60.0, rng) for _ in range(300)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8, "the whole range is used"


def test_retry_after_is_a_floor_and_the_deadline_a_limit() -> None:
    rng = random.Random(2)
    assert retry_delay(1, 0.1, 1.0, 3.0, 10.0, rng) == 3.0
    assert retry_delay(1, 0.1, 1.0, 3.0, 3.0 + MIN_CALL_S / 2, rng) is None
    assert retry_delay(1, 0.1, 1.0, None, MIN_CALL_S / 2, rng) is None


def retrying_config(max_retries: int) -> Config:
    document: dict[str, Any] = load_config(DEMO_CONFIG).model_dump(mode="json")
    document["providers"]["bedrock"].update(max_retries=max_retries, retry_base_s=0.2, retry_max_s=0.4)
    return Config.model_validate(document)


def plan_for(gw: Gateway, now: float = 0.0) -> Plan:
    ctx = RequestContext(api_key="demo-acme", messages=[{"role": "user", "content": "hi"}],
                         received_at=1_795_000_000_000_000, workflow="support-summary",
                         latency_class="interactive")
    plan = gw.admit(ctx, now)
    assert isinstance(plan, Plan), plan
    return plan


def test_the_core_retries_the_same_target_then_falls_back() -> None:
    events: list[dict[str, Any]] = []
    gw = Gateway(retrying_config(2), gateway_id="gw", emit=events.append)
    plan = plan_for(gw)
    first = gw.next_target(plan, 0.0)
    assert first is not None and first.provider == "bedrock"
    throttled = AttemptResult.failure("throttle", 429, retry_after=0.5)
    gw.record_attempt(plan, first, throttled, 0.0)
    assert gw.retry_wait(plan, 0.0) == 0.5, "Retry-After over the jittered backoff"
    assert gw.next_target(plan, 0.5) is first
    gw.record_attempt(plan, first, AttemptResult.failure("error", 502), 0.5)
    wait = gw.retry_wait(plan, 0.5)
    assert 0 <= wait <= 0.4
    assert gw.next_target(plan, 0.5 + wait) is first
    gw.record_attempt(plan, first, AttemptResult.failure("outage", 503), 1.0)
    assert gw.retry_wait(plan, 1.0) == 0.0, "max_retries used up: on to the next target"
    second = gw.next_target(plan, 1.0)
    assert second is not None and second is not first
    gw.record_attempt(plan, second, OK, 1.2)
    event = gw.finish(plan, 200, 1.2, 10, 5)
    assert (event["attempts"], event["fallback_used"], event["fallback_reason"]) == (4, True, "throttle")


def test_a_retry_that_succeeds_is_no_fallback_and_non_retryable_failures_move_on() -> None:
    gw = Gateway(retrying_config(1), gateway_id="gw", emit=lambda event: None)
    plan = plan_for(gw)
    first = gw.next_target(plan, 0.0)
    assert first is not None
    gw.record_attempt(plan, first, AttemptResult.failure("throttle", 429), 0.0)
    assert gw.next_target(plan, gw.retry_wait(plan, 0.0)) is first
    gw.record_attempt(plan, first, OK, 0.3)
    event = gw.finish(plan, 200, 0.3, 10, 5)
    assert (event["attempts"], event["fallback_used"], event["fallback_reason"]) == (2, False, "throttle")

    other = plan_for(gw)
    target = gw.next_target(other, 0.0)
    assert target is not None
    gw.record_attempt(other, target, AttemptResult.failure("timeout"), 0.0)
    assert gw.next_target(other, 0.0) is not target


def test_no_retries_unless_configured_or_when_the_lane_has_no_time() -> None:
    gw = Gateway(retrying_config(0), gateway_id="gw", emit=lambda event: None)
    plan = plan_for(gw)
    first = gw.next_target(plan, 0.0)
    assert first is not None
    gw.record_attempt(plan, first, AttemptResult.failure("throttle", 429), 0.0)
    assert gw.next_target(plan, 0.0) is not first

    late = Gateway(retrying_config(3), gateway_id="gw", emit=lambda event: None)
    plan = plan_for(late)
    first = late.next_target(plan, 0.0)
    assert first is not None
    near_deadline = plan.deadline - MIN_CALL_S / 2
    late.record_attempt(plan, first, AttemptResult.failure("throttle", 429), near_deadline)
    assert late.retry_wait(plan, near_deadline) == 0.0


def test_a_retry_after_a_capability_skip_goes_back_to_the_target_just_called() -> None:
    """Capability routing drops targets at admission; the retry rewinds the cursor by one, so it
    must land on the target the chain returned, not on one capability routing skipped."""
    probe = Gateway(retrying_config(0), gateway_id="gw", emit=lambda event: None)
    ctx = RequestContext(api_key="demo-acme", messages=[{"role": "user", "content": "see this"}],
                         received_at=1_795_000_000_000_000, workflow="support-summary",
                         latency_class="interactive", needs=("vision",), modalities=("image", "text"),
                         sensitivity="public")
    capable = probe.admit(ctx, 0.0)
    assert isinstance(capable, Plan) and capable.fallback_reason == "capability"
    document: dict[str, Any] = retrying_config(0).model_dump(mode="json")
    retrying = document["providers"][capable.targets[0].provider]
    retrying.update(max_retries=1, retry_base_s=0.1, retry_max_s=0.1)
    gw = Gateway(Config.model_validate(document), gateway_id="gw", emit=lambda event: None)
    plan = gw.admit(ctx, 0.0)
    assert isinstance(plan, Plan) and plan.targets == capable.targets
    first = gw.next_target(plan, 0.0)
    assert first is plan.targets[0] and plan.cursor == 1, "the cursor sits just past the returned target"
    gw.record_attempt(plan, first, AttemptResult.failure("throttle", 429), 0.0)
    wait = gw.retry_wait(plan, 0.0)
    assert 0 <= wait <= 0.1
    assert gw.next_target(plan, wait) is first
    gw.record_attempt(plan, first, OK, 0.2)
    event = gw.finish(plan, 200, 0.2, 10, 5)
    assert (event["attempts"], event["fallback_reason"]) == (2, "capability")
