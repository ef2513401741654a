"""A finished event dict → the OpenTelemetry span and metric points it stands for (docs/telemetry.md).

Pure and SDK-free: names, attributes and times only, so the mapping is tested without an exporter.
GenAI semantic-convention attributes (``gen_ai.*``) where the conventions have one; the gateway's
own fields under ``aigw.*``. Message content is never exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AttributeValue = str | bool | int | float | list[str]
Attributes = dict[str, AttributeValue]

OPERATION = "chat"
PROVIDER_NAMES = {"bedrock": "aws.bedrock", "openai": "openai", "simulated": "aigw.simulated"}
"""Provider kind (config) → ``gen_ai.provider.name``: the conventions' well-known values where they exist."""

_AIGW_FIELDS = ("tenant_id", "team", "app_id", "workflow", "sensitivity", "latency_class", "budget_class",
                "model_route", "model_provider", "prompt_version", "outcome", "fallback_used",
                "fallback_reason", "attempts", "validation_result", "policy_version", "estimated_cost_usd",
                "inference_latency_ms", "gateway_overhead_ms", "retrieval_latency_ms", "run_id", "event_id")
METRIC_DIMENSIONS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.response.model",
                     "aigw.tenant_id", "aigw.team", "aigw.latency_class", "aigw.outcome")
"""Low-cardinality attributes the metrics carry (never user, app or trace ids)."""


def span_name(event: Mapping[str, Any]) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``, as the conventions name inference spans."""
    model = event.get("model_name") or event.get("model_requested")
    return f"{OPERATION} {model}" if model else OPERATION


def span_times(event: Mapping[str, Any]) -> tuple[int, int]:
    """(start, end) in epoch nanoseconds: received at ``ts``, ended ``total_latency_ms`` later."""
    start = int(event["ts"]) * 1000
    total_ms = event.get("total_latency_ms") or 0.0
    return start, start + int(total_ms * 1_000_000)


def trace_id_of(event: Mapping[str, Any]) -> int:
    """The event's W3C trace id as the 128-bit integer a span carries (0 when absent or malformed)."""
    value = event.get("trace_id") or ""
    try:
        return int(value, 16) if len(value) == 32 else 0
    except ValueError:
        return 0


def is_error(event: Mapping[str, Any]) -> bool:
    """A span in error: the gateway failed the request (an ``upstream_error`` or any 5xx), not a refusal."""
    status = event.get("status_code") or 0
    return event.get("outcome") == "upstream_error" or status >= 500


def span_attributes(event: Mapping[str, Any], provider_kinds: Mapping[str, str]) -> Attributes:
    """Every non-empty attribute of the request's span."""
    attributes: Attributes = {"gen_ai.operation.name": OPERATION}
    provider = event.get("model_provider")
    standard = {
        "gen_ai.request.model": event.get("model_requested") or None,
        "gen_ai.provider.name": provider_name(provider, provider_kinds),
        "gen_ai.response.model": event.get("model_name"),
        "gen_ai.usage.input_tokens": event.get("input_tokens"),
        "gen_ai.usage.output_tokens": event.get("output_tokens"),
        "gen_ai.request.stream": event.get("streamed"),
        "gen_ai.response.time_to_first_chunk": _seconds(event.get("ttft_ms")),
        "user.id": event.get("user_id"),
        "http.response.status_code": event.get("status_code"),
        "error.type": event.get("error_type"),
    }
    for key, value in standard.items():
        if value is not None:
            attributes[key] = value
    for field in _AIGW_FIELDS:
        value = event.get(field)
        if value is not None and value != "":
            attributes[f"aigw.{field}"] = value
    actions = event.get("guardrail_actions")
    if actions:
        attributes["aigw.guardrail_actions"] = [str(a) for a in actions]
    return attributes


def metric_attributes(event: Mapping[str, Any], provider_kinds: Mapping[str, str]) -> Attributes:
    """The dimensions of the request, token, cost and duration metrics for this event."""
    values = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": provider_name(event.get("model_provider"), provider_kinds),
        "gen_ai.response.model": event.get("model_name"),
        "aigw.tenant_id": event.get("tenant_id"),
        "aigw.team": event.get("team"),
        "aigw.latency_class": event.get("latency_class"),
        "aigw.outcome": event.get("outcome"),
    }
    return {key: value for key, value in values.items() if value is not None}


def provider_name(provider: str | None, provider_kinds: Mapping[str, str]) -> str | None:
    if provider is None:
        return None
    kind = provider_kinds.get(provider)
    return PROVIDER_NAMES.get(kind, provider) if kind is not None else provider


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0
