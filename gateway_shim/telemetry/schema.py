"""Telemetry event schema v2: the one contract between the gateway, the lake and the warehouse.

Every producer builds rows against ``EVENT_SCHEMA`` and every consumer reads with it; nothing else
defines these columns. Field meanings and their OpenTelemetry GenAI mapping are in docs/telemetry.md.

v2 is additive: it appends ``operation``, the cache/reasoning token counts, ``tool_calls``,
``modalities``, ``state_degraded`` and (added later within v2) ``input_images`` to v1's columns.
Readers accept both versions (``READABLE_VERSIONS``); a v1 row reads with the new columns null
(``operation`` as ``chat``: v1 had no other operation), an early v2 row with ``input_images`` null.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 2
READABLE_VERSIONS: Final = (1, 2)
"""Every ``schema_version`` the pipelines and the spool read (older ones read with the new columns null)."""

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
        # v2
        pa.field("operation", pa.string()),
        pa.field("cache_read_tokens", pa.int32()),
        pa.field("cache_write_tokens", pa.int32()),
        pa.field("reasoning_tokens", pa.int32()),
        pa.field("tool_calls", pa.int16()),
        pa.field("modalities", pa.list_(pa.string())),
        pa.field("state_degraded", pa.bool_()),
        pa.field("input_images", pa.int32()),
    ],
    metadata={"aigw.schema_version": str(SCHEMA_VERSION)},
)

EVENT_COLUMNS: Final = tuple(EVENT_SCHEMA.names)


def schema_problem(schema: pa.Schema) -> str | None:
    """Why a file with ``schema`` is not a schema-v1 event file, or ``None``.

    Columns are exactly v1's by name and type (a nullable column may be absent). Nothing is cast: a
    cost written as text is refused, not parsed into money. Shared by the pipeline's loader and the
    gateway's budget seeding, so both trust the same files.
    """
    names = set(schema.names)
    missing = [f.name for f in EVENT_SCHEMA if not f.nullable and f.name not in names]
    if missing:
        return f"not an aigw event file: missing required column(s) {', '.join(missing)}"
    extra = [name for name in schema.names if name not in EVENT_SCHEMA.names]
    if extra:
        return f"column(s) not in event schema v{SCHEMA_VERSION}: {', '.join(extra)}"
    for field in schema:
        expected = EVENT_SCHEMA.field(field.name).type
        if field.type != expected and not (_is_text(field.type) and _is_text(expected)):
            return f"column {field.name} is {field.type}, event schema v{SCHEMA_VERSION} says {expected}"
    return None


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


V2_COLUMNS: Final = frozenset(
    ("operation", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "tool_calls", "modalities",
     "state_degraded", "input_images"))
"""The columns v2 added: what a v1 table lacks (an early v2 table lacks ``input_images`` only)."""


def upgrade(table: pa.Table) -> pa.Table:
    """A table of an older schema version (a spool segment written before an upgrade) as
    ``EVENT_SCHEMA``, the v2 columns it lacks as nulls; ``pa.ArrowInvalid`` for any other schema."""
    if table.schema.equals(EVENT_SCHEMA, check_metadata=False):
        return table
    names = set(table.column_names)
    expected = [f for f in EVENT_SCHEMA if f.name in names or f.name not in V2_COLUMNS]
    if [(f.name, f.type) for f in table.schema] != [(f.name, f.type) for f in expected]:
        raise pa.ArrowInvalid("the table is not of a known event schema version")
    columns = [table.column(f.name) if f.name in names else pa.nulls(table.num_rows, f.type)
               for f in EVENT_SCHEMA]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)
