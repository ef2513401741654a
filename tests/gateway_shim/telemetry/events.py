"""Realistic schema-v1 event dicts for the telemetry tests."""

from __future__ import annotations

from typing import Any

HOUR_US = 3_600_000_000
BASE_TS = 1_795_996_800_000_000  # 2026-11-30T00:00:00Z


def make_event(i: int, ts_us: int = BASE_TS, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"evt-{i:08d}",
        "schema_version": 2,
        "ts": ts_us,
        "trace_id": f"{i:032x}",
        "gateway_id": "gw-test",
        "tenant_id": ("acme", "globex", "initech")[i % 3],
        "team": "payments",
        "app_id": "checkout",
        "user_id": f"user-{i % 17}",
        "workflow": "support-summary",
        "sensitivity": "internal",
        "latency_class": "interactive",
        "budget_class": "standard",
        "model_requested": "",
        "model_provider": "bedrock",
        "model_route": "interactive-chat",
        "model_name": "anthropic.claude-3-5-haiku-v1",
        "prompt_version": "v3",
        "input_tokens": 100 + i % 50,
        "output_tokens": 200,
        "retrieval_latency_ms": 12.5,
        "inference_latency_ms": 420.0,
        "gateway_overhead_ms": 0.25,
        "total_latency_ms": 433.0,
        "ttft_ms": 150.0,
        "status_code": 200,
        "outcome": "ok",
        "error_type": None,
        "fallback_used": i % 10 == 0,
        "fallback_reason": "upstream_error" if i % 10 == 0 else None,
        "attempts": 1 + (i % 10 == 0),
        "validation_result": "passed",
        "guardrail_actions": ["pii_redacted:email"] if i % 7 == 0 else [],
        "policy_version": "9fae1b97f33e",
        "estimated_cost_usd": 0.00052,
        "streamed": i % 2 == 0,
        "run_id": None,
        "operation": "chat",
        "cache_read_tokens": 64 if i % 3 == 0 else 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": None,
        "tool_calls": i % 4,
        "modalities": ["image", "text"] if i % 5 == 0 else ["text"],
    }
    event.update(overrides)
    return event
