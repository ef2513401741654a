"""How a broken stream ends and what it is charged (`gateway_shim/server/stream_endings.py`)."""

from __future__ import annotations

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.core import Gateway
from gateway_shim.server.metrics import Metrics
from gateway_shim.server.stream_endings import broken_stream, client_closed, unreported_output_tokens
from gateway_shim.types import Plan, RequestContext
from gateway_shim.upstream.base import UpstreamError

DEMO = load_config(DEMO_CONFIG)


def _plan() -> Plan:
    gateway = Gateway(DEMO, gateway_id="gw-test", emit=lambda event: None)
    ctx = RequestContext(api_key="demo-acme", messages=[{"role": "user", "content": "hi"}],
                         received_at=1_790_000_000_000_000, app_id="checkout-assistant", max_tokens=100)
    plan = gateway.admit(ctx, 0.0)
    assert isinstance(plan, Plan), plan
    return plan


def test_an_upstream_error_mid_stream_is_a_502_naming_it_and_a_failed_attempt() -> None:
    metrics = Metrics()
    attempt, error = broken_stream(UpstreamError("outage", 503, "reset by peer", retry_after=3.0),
                                   _plan().targets[0], metrics, "stream from %s failed unexpectedly")
    assert (attempt.ok, attempt.reason, attempt.status, attempt.retry_after) == (False, "outage", 503, None)
    assert (error.status, error.code, error.outcome) == (502, "stream_interrupted", "upstream_error")
    assert error.message == "the upstream stream broke: reset by peer"
    assert metrics.handler_errors == 0


def test_an_adapter_bug_mid_stream_is_counted_and_says_no_more_than_that() -> None:
    metrics = Metrics()
    attempt, error = broken_stream(KeyError("secret detail"), _plan().targets[0], metrics,
                                   "stream from %s failed unexpectedly")
    assert (attempt.ok, attempt.reason, attempt.status) == (False, "error", None)
    assert (error.status, error.message) == (502, "the upstream stream broke")
    assert metrics.handler_errors == 1


def test_a_hang_up_is_a_499_client_error() -> None:
    error = client_closed()
    assert (error.status, error.code, error.outcome) == (499, "client_closed", "client_error")
    assert client_closed() is not error  # each request gets its own


def test_unreported_output_is_a_quarter_token_a_character_at_least_one_and_within_the_cap() -> None:
    plan = _plan()
    assert unreported_output_tokens(plan, 0) == 0
    assert unreported_output_tokens(plan, 3) == 1
    assert unreported_output_tokens(plan, 40) == 10
    assert unreported_output_tokens(plan, 1_000_000) == plan.max_tokens
