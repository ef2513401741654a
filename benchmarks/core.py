"""Per-request CPU cost of the gateway core, side by side with a bare dict-building floor.

Run:  .venv/bin/python benchmarks/core.py [--requests 50000] [--repeats 5]

Each scenario drives ``Gateway`` the way the server and the simulator do: admit → next_target →
record_attempt → finish (which settles the budget and builds and emits the event into a sink). The
floor builds the same event dict (every column of the schema) from the request and appends it: the
least any gateway must do per request. Events go to a sink that drops them every 1,000 (as a
writer's batch would). CPU (process) time, best of ``--repeats`` runs; one process, one core.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.telemetry.schema import EVENT_COLUMNS, SCHEMA_VERSION
from gateway_shim.types import AttemptResult, Plan, RequestContext

TS = 1_795_600_000_000_000  # 2026-11-24, inside the demo prices
SHORT = "Summarise this support ticket in two lines: the customer cannot log in after a password reset."
LONG = (SHORT + " ") * 20
PII = "I am ann@example.com, call me on (555) 123-4567. " + SHORT
OK = AttemptResult.success()
TIMEOUT = AttemptResult.failure("timeout", 504)


def unlimited_config() -> Config:
    """The demo policy with limits and budgets too large to refuse anything during the run, and
    breakers that never open (so the fallback scenario keeps falling back instead of skipping)."""
    document = load_config(DEMO_CONFIG).model_dump(mode="json")
    for tenant in document["tenants"].values():
        tenant["limits"] = {"requests_per_min": 10**12, "tokens_per_min": 10**15}
        tenant["monthly_budget_usd"] = 1e12
    for provider in document["providers"].values():
        provider["circuit_breaker"]["min_requests"] = 10**12
    return Config.model_validate(document)


def request(text: str, api_key: str = "demo-acme") -> RequestContext:
    return RequestContext(
        api_key=api_key, messages=[{"role": "user", "content": text}], received_at=TS,
        trace_id="0af7651916cd43dd8448eb211c80319c", workflow="support-summary", app_id="checkout-assistant",
        user_id="u-1", latency_class="interactive", prompt_version="v3", retrieval_ms=10.0,
    )


def core_loop(gw: Gateway, ctx: RequestContext, results: tuple[AttemptResult, ...], n: int) -> None:
    now = 0.0
    admit, next_target, record, finish = gw.admit, gw.next_target, gw.record_attempt, gw.finish
    for _ in range(n):
        now += 1e-4
        plan = admit(ctx, now)
        assert isinstance(plan, Plan)
        for result in results:
            target = next_target(plan, now)
            assert target is not None
            record(plan, target, result, now)
        finish(plan, status_code=200, input_tokens=120, output_tokens=80, inference_ms=50.0,
               total_ms=51.0, gateway_overhead_ms=1.0, now=now)


def reject_loop(gw: Gateway, ctx: RequestContext, n: int) -> None:
    for i in range(n):
        rejection = gw.admit(ctx, i * 1e-4)
        assert not isinstance(rejection, Plan)
        gw.reject(ctx, rejection, i * 1e-4)


class BatchSink:
    """Holds events like a writer's batch: dropped every ``BATCH`` so the heap stays small."""

    BATCH = 1000

    def __init__(self) -> None:
        self.batch: list[dict[str, Any]] = []
        self.last: dict[str, Any] = {}

    def append(self, event: dict[str, Any]) -> None:
        batch = self.batch
        batch.append(event)
        if len(batch) >= self.BATCH:
            self.last = batch[-1]
            batch.clear()

    def clear(self) -> None:
        self.batch.clear()


def floor_loop(sink: BatchSink, ctx: RequestContext, n: int) -> None:
    """Build the event dict by hand (all columns, values from the request) and append it."""
    for i in range(n):
        sink.append({
            "event_id": f"00000000-0000-4000-8000-{i:012x}", "schema_version": SCHEMA_VERSION,
            "ts": ctx.received_at,
            "trace_id": ctx.trace_id, "gateway_id": "bench", "tenant_id": "acme", "team": "payments",
            "app_id": ctx.app_id, "user_id": ctx.user_id, "workflow": ctx.workflow,
            "sensitivity": "internal", "latency_class": ctx.latency_class, "budget_class": ctx.budget_class,
            "model_requested": ctx.model_requested, "model_provider": "bedrock",
            "model_route": "interactive-chat", "model_name": "anthropic.claude-3-5-haiku-v1",
            "prompt_version": ctx.prompt_version, "input_tokens": 120, "output_tokens": 80,
            "retrieval_latency_ms": ctx.retrieval_ms, "inference_latency_ms": 50.0,
            "gateway_overhead_ms": 1.0, "total_latency_ms": 51.0, "ttft_ms": None, "status_code": 200,
            "outcome": "ok", "error_type": None, "fallback_used": False, "fallback_reason": None,
            "attempts": 1, "validation_result": "passed", "guardrail_actions": [],
            "policy_version": "x", "estimated_cost_usd": 0.0, "streamed": False, "run_id": ctx.run_id,
            "state_degraded": False, "operation": "chat", "cache_read_tokens": 0, "cache_write_tokens": 0,
            "reasoning_tokens": 0, "tool_calls": 0, "modalities": ["text"], "input_images": 0,
        })
    assert len(sink.last) == len(EVENT_COLUMNS)


def best_us(run: Callable[[int], None], n: int, repeats: int) -> float:
    """CPU microseconds per request (process time: other processes on the machine do not count)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run(n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = unlimited_config()
    sink = BatchSink()

    def fresh_gateway() -> Gateway:
        return Gateway(config, gateway_id="bench", emit=sink.append)

    def floor(n: int) -> None:
        sink.clear()
        floor_loop(sink, request(SHORT), n)

    def scenario(text: str, results: tuple[AttemptResult, ...]) -> Callable[[int], None]:
        def run(n: int) -> None:
            sink.clear()
            core_loop(fresh_gateway(), request(text), results, n)
        return run

    def rejected(n: int) -> None:
        sink.clear()
        reject_loop(fresh_gateway(), request(SHORT, api_key="wrong"), n)

    rows = [
        ("floor: build + append the event dict", floor),
        ("core: short prompt, first target ok", scenario(SHORT, (OK,))),
        ("core: 2 KB prompt, first target ok", scenario(LONG, (OK,))),
        ("core: prompt with email + phone (redacted)", scenario(PII, (OK,))),
        ("core: first target times out, fallback ok", scenario(SHORT, (TIMEOUT, OK))),
        ("core: unknown key → 401 event", rejected),
    ]
    measured = [(name, best_us(run, args.requests, args.repeats)) for name, run in rows]
    floor_us = measured[0][1]
    print(f"{args.requests} requests x best of {args.repeats}, CPU time of this process")
    print(f"{'scenario':<52} {'CPU us/req':>10} {'x floor':>8} {'requests/s':>11}")
    for name, us in measured:
        print(f"{name:<52} {us:>10.2f} {us / floor_us:>8.1f} {1e6 / us:>11,.0f}")


if __name__ == "__main__":
    main()
