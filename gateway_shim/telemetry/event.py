"""Build the schema-v2 event dict (keys = ``EVENT_COLUMNS``) for a finished or refused request.

Plain dict literals: this runs once per request on the hot path. ``event_id`` is a UUID-shaped
string from a per-gateway random prefix and a counter: unique without a uuid4 call per request.
"""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

from gateway_shim.telemetry.schema import SCHEMA_VERSION
from gateway_shim.types import Plan, Rejection, RequestContext


class EventIds:
    """``xxxxxxxx-xxxx-4xxx-yxxx-<counter as 12 hex>``: a random v4 prefix per instance, then a counter."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self, seed_uuid: uuid.UUID | None = None) -> None:
        self._prefix = str(seed_uuid or uuid.uuid4())[:24]
        self._counter = count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


def rejection_event(
    ctx: RequestContext,
    rejection: Rejection,
    *,
    event_id: str,
    gateway_id: str,
    policy_version: str,
    total_ms: float | None = None,
) -> dict[str, Any]:
    """The event of a request refused before any upstream call."""
    return {
        "event_id": event_id,
        "schema_version": SCHEMA_VERSION,
        "ts": ctx.received_at,
        "trace_id": ctx.trace_id or event_id.replace("-", ""),
        "gateway_id": gateway_id,
        "tenant_id": rejection.tenant_id,
        "team": rejection.team,
        "app_id": ctx.app_id,
        "user_id": ctx.user_id,
        "workflow": ctx.workflow,
        "sensitivity": rejection.sensitivity or ctx.sensitivity,
        "latency_class": rejection.lane or ctx.latency_class,
        "budget_class": ctx.budget_class,
        "model_requested": ctx.model_requested,
        "model_provider": None,
        "model_route": rejection.route,
        "model_name": None,
        "prompt_version": ctx.prompt_version,
        "input_tokens": rejection.input_tokens,
        "output_tokens": 0 if rejection.input_tokens is not None else None,
        "retrieval_latency_ms": ctx.retrieval_ms,
        "inference_latency_ms": None,
        "gateway_overhead_ms": total_ms,
        "total_latency_ms": total_ms,
        "ttft_ms": None,
        "status_code": rejection.status,
        "outcome": rejection.outcome,
        "error_type": rejection.code,
        "fallback_used": False,
        "fallback_reason": None,
        "attempts": 0,
        "validation_result": rejection.validation_result,
        "guardrail_actions": rejection.guardrail_actions,
        "policy_version": policy_version,
        "estimated_cost_usd": 0.0,
        "streamed": ctx.stream,
        "run_id": ctx.run_id,
        "operation": ctx.operation,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "tool_calls": None,
        "modalities": ctx.modalities,
        "state_degraded": rejection.state_degraded,
        "input_images": ctx.input_images,
    }


def plan_event(
    plan: Plan,
    event_id: str,
    gateway_id: str,
    policy_version: str,
    status_code: int,
    outcome: str,
    error_type: str | None,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float | None,
    inference_ms: float | None,
    ttft_ms: float | None,
    total_ms: float | None,
    gateway_overhead_ms: float | None,
    streamed: bool,
    cache_read_tokens: int | None,
    cache_write_tokens: int | None,
    reasoning_tokens: int | None,
    tool_calls: int | None,
) -> dict[str, Any]:
    """The event of an admitted request, served or failed. The core passes the arguments positionally
    (once per request; a keyword costs ~35 ns); tests/gateway_shim/telemetry/test_event.py pins the order.
    The usage details are ``None`` when the provider did not report them (never guessed)."""
    ctx = plan.ctx
    served = plan.served
    return {
        "event_id": event_id,
        "schema_version": SCHEMA_VERSION,
        "ts": ctx.received_at,
        "trace_id": ctx.trace_id or event_id.replace("-", ""),
        "gateway_id": gateway_id,
        "tenant_id": plan.tenant_id,
        "team": plan.team,
        "app_id": ctx.app_id,
        "user_id": ctx.user_id,
        "workflow": ctx.workflow,
        "sensitivity": plan.sensitivity,
        "latency_class": plan.lane,
        "budget_class": ctx.budget_class,
        "model_requested": ctx.model_requested,
        "model_provider": served.provider if served is not None else None,
        "model_route": plan.route,
        "model_name": served.model if served is not None else None,
        "prompt_version": ctx.prompt_version,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "retrieval_latency_ms": ctx.retrieval_ms,
        "inference_latency_ms": inference_ms,
        "gateway_overhead_ms": gateway_overhead_ms,
        "total_latency_ms": total_ms,
        "ttft_ms": ttft_ms,
        "status_code": status_code,
        "outcome": outcome,
        "error_type": error_type,
        "fallback_used": plan.fallback_used,
        "fallback_reason": plan.fallback_reason or ("degrade" if plan.degraded else None),
        "attempts": plan.attempts,
        "validation_result": plan.validation_result,
        "guardrail_actions": plan.guardrail_actions,
        "policy_version": policy_version,
        "estimated_cost_usd": cost_usd,
        "streamed": streamed,
        "run_id": ctx.run_id,
        "operation": ctx.operation,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "reasoning_tokens": reasoning_tokens,
        "tool_calls": tool_calls,
        "modalities": ctx.modalities,
        "state_degraded": plan.state_degraded,
        "input_images": ctx.input_images,
    }
