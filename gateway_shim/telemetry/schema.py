"""Telemetry event schema v1: the one contract between the gateway, the lake and the warehouse.

Every producer builds rows against ``EVENT_SCHEMA`` and every consumer reads with it; nothing else
defines these columns. Field meanings and their OpenTelemetry GenAI mapping are in docs/telemetry.md.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 1

OUTCOMES: Final = ("ok", "blocked", "throttled", "budget_exceeded", "upstream_error", "client_error")
VALIDATION_RESULTS: Final = ("passed", "modified", "blocked")

EVENT_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int16(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("trace_id", pa.string()),
        pa.field("gateway_id", pa.string()),
        pa.field("tenant_id", pa.string()),
        pa.field("team", pa.string()),
        pa.field("app_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("workflow", pa.string()),
        pa.field("sensitivity", pa.string()),
        pa.field("latency_class", pa.string()),
        pa.field("budget_class", pa.string()),
        pa.field("model_requested", pa.string()),
        pa.field("model_provider", pa.string()),
        pa.field("model_route", pa.string()),
        pa.field("model_name", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("input_tokens", pa.int32()),
        pa.field("output_tokens", pa.int32()),
        pa.field("retrieval_latency_ms", pa.float32()),
        pa.field("inference_latency_ms", pa.float32()),
        pa.field("gateway_overhead_ms", pa.float32()),
        pa.field("total_latency_ms", pa.float32()),
        pa.field("ttft_ms", pa.float32()),
        pa.field("status_code", pa.int16()),
        pa.field("outcome", pa.string()),
        pa.field("error_type", pa.string()),
        pa.field("fallback_used", pa.bool_()),
        pa.field("fallback_reason", pa.string()),
        pa.field("attempts", pa.int8()),
        pa.field("validation_result", pa.string()),
        pa.field("guardrail_actions", pa.list_(pa.string())),
        pa.field("policy_version", pa.string()),
        pa.field("estimated_cost_usd", pa.float64()),
        pa.field("streamed", pa.bool_()),
        pa.field("run_id", pa.string()),
        pa.field("state_degraded", pa.bool_()),
    ],
    metadata={"aigw.schema_version": str(SCHEMA_VERSION)},
)

EVENT_COLUMNS: Final = tuple(EVENT_SCHEMA.names)
