"""``plan_event``'s positional parameters: each lands in its own event column (the core passes them
positionally, so a swap of two same-typed arguments must fail here)."""

from __future__ import annotations

import inspect

from gateway_shim.telemetry.event import plan_event, rejection_event
from gateway_shim.telemetry.schema import EVENT_COLUMNS
from gateway_shim.types import Plan, Rejection, RequestContext, Target

COLUMN_OF = {
    "event_id": "event_id", "gateway_id": "gateway_id", "policy_version": "policy_version",
    "status_code": "status_code", "outcome": "outcome", "error_type": "error_type",
    "input_tokens": "input_tokens", "output_tokens": "output_tokens", "cost_usd": "estimated_cost_usd",
    "inference_ms": "inference_latency_ms", "ttft_ms": "ttft_ms", "total_ms": "total_latency_ms",
    "gateway_overhead_ms": "gateway_overhead_ms", "streamed": "streamed",
    "cache_read_tokens": "cache_read_tokens", "cache_write_tokens": "cache_write_tokens",
    "reasoning_tokens": "reasoning_tokens", "tool_calls": "tool_calls",
}
"""Parameter → column, in the order the core passes them."""


def test_plan_event_parameters_are_in_the_order_the_core_passes_them() -> None:
    assert list(inspect.signature(plan_event).parameters) == ["plan", *COLUMN_OF]


def test_each_argument_lands_in_its_own_column() -> None:
    ctx = RequestContext.arrived("k", [], 1_795_600_000_000_000, "0af7651916cd43dd8448eb211c80319c", "",
                                 None, False, "wf", "app", "u", None, None, None, None, None, None, 0,
                                 "chat", ("image", "text"), ("vision",), None, "openai", 2)
    target = Target("bedrock", "anthropic.claude-3-5-haiku-v1")
    plan = Plan.admitted(ctx, "acme", "payments", "interactive", "internal", "chat", (target,), 1024, [], 12,
                         10.0, 15.0, 0, 0.01, 24322, [], "passed", False)
    plan.served = target
    sentinels = {name: object() for name in COLUMN_OF}
    event = plan_event(plan, *sentinels.values())
    assert set(event) == set(EVENT_COLUMNS)
    assert {name: event[column] for name, column in COLUMN_OF.items()} == sentinels
    assert (event["tenant_id"], event["team"], event["latency_class"], event["model_route"]) == (
        "acme", "payments", "interactive", "chat")
    assert (event["schema_version"], event["operation"]) == (2, "chat")
    assert event["modalities"] == ("image", "text")
    assert event["input_images"] == 2


def test_a_refusal_names_its_operation_and_modalities_and_reports_no_usage_details() -> None:
    ctx = RequestContext.arrived("k", [], 1_795_600_000_000_000, "", "", None, False, None, None, None, None,
                                 None, None, None, None, None, 0, "embeddings", ("text",), (),
                                 None, "openai", 0)
    event = rejection_event(ctx, Rejection(401, "invalid_api_key", "unknown API key", "client_error"),
                            event_id="e", gateway_id="gw", policy_version="p")
    assert set(event) == set(EVENT_COLUMNS)
    assert (event["operation"], event["modalities"]) == ("embeddings", ("text",))
    usage = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "tool_calls")
    assert [event[column] for column in usage] == [None, None, None, None]
