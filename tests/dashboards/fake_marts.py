"""A warehouse of synthetic marts with the DESIGN.md columns, for page tests and the benchmark.

Deterministic for a seed; ``days`` long from ``start``. Independent of the pipelines, so the pages can
be measured on a year of marts without simulating a year of traffic.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TENANTS = {
    "acme": ("payments", 2500.0, ["checkout-assistant", "dispute-summariser", "finance-analytics"]),
    "globex": ("support", 2500.0, ["support-desk", "knowledge-bot", "ticket-classifier"]),
    "initech": ("search", 900.0, ["ai-search", "doc-indexer", "legacy-reports"]),
}
MODELS = [
    ("bedrock", "anthropic.claude-3-5-haiku-v1", 2.4e-6),
    ("bedrock", "amazon.nova-lite-v1", 1.5e-7),
    ("selfhosted", "mistral-7b-instruct", 8e-8),
    ("bedrock", "anthropic.claude-3-7-sonnet-v1", 9e-6),
]
LANES = {
    "interactive": (3000.0, 0.995, ["interactive-chat", "default"]),
    "standard": (8000.0, 0.99, ["analytics", "ai-search", "default"]),
    "batch": (30000.0, 0.98, ["batch"]),
}
DRIFT_KINDS = [
    "allowlist_violation",
    "fallback_rate_shift",
    "block_rate_shift",
    "cost_per_request_shift",
    "untagged_spend",
    "prompt_version_change",
    "budget_overrun",
]


def _cost_daily(days: list[date], rng: np.random.Generator, scale: float) -> pd.DataFrame:
    rows = []
    for tenant, (team, _, apps) in TENANTS.items():
        for app in apps:
            for lane in LANES:
                for provider, model, per_token in MODELS[: 2 + len(app) % 3]:
                    base = rng.uniform(20, 200) * scale
                    for i, day in enumerate(days):
                        requests = int(base * (1 + 0.3 * np.sin(i / 5)) * rng.uniform(0.8, 1.2)) + 1
                        tokens_in = requests * int(rng.integers(300, 900))
                        tokens_out = requests * int(rng.integers(80, 300))
                        cost = (tokens_in + 3 * tokens_out) * per_token
                        rows.append(
                            (
                                day,
                                tenant,
                                team,
                                app,
                                f"{app}-flow",
                                lane,
                                provider,
                                model,
                                requests,
                                tokens_in,
                                tokens_out,
                                cost,
                                cost * rng.uniform(0.97, 1.03),
                            )
                        )
    return pd.DataFrame(
        rows,
        columns=[
            "day",
            "tenant_id",
            "team",
            "app_id",
            "workflow",
            "latency_class",
            "model_provider",
            "model_name",
            "requests",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "estimated_cost_usd",
        ],
    )


def _slo_daily(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for lane, (target_ms, availability_target, routes) in LANES.items():
        for route in routes:
            for day in days:
                requests = int(rng.integers(500, 3000))
                bad_day = rng.random() < 0.05
                errors = int(requests * (rng.uniform(0.02, 0.08) if bad_day else rng.uniform(0, 0.004)))
                p50 = target_ms * rng.uniform(0.15, 0.3)
                p95 = target_ms * rng.uniform(0.6, 1.2 if bad_day else 0.95)
                availability = 1 - errors / requests
                budget_remaining = 100 * (1 - (errors / requests) / (1 - availability_target))
                rows.append(
                    (
                        day,
                        lane,
                        route,
                        requests,
                        errors,
                        availability,
                        p50,
                        p95,
                        p95 * 1.3,
                        target_ms,
                        float(rng.uniform(88, 94) if bad_day else rng.uniform(95.5, 99.9)),
                        availability_target,
                        budget_remaining,
                        (errors / requests) / (1 - availability_target),
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "day",
            "latency_class",
            "model_route",
            "requests",
            "errors",
            "availability",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "latency_target_ms",
            "within_latency_pct",
            "availability_target",
            "error_budget_remaining_pct",
            "burn_rate",
        ],
    )


def _policy_drift(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i, day in enumerate(days):
        if i % 30 == 3:
            rows.append(
                (
                    day,
                    None,
                    "policy_change",
                    f"v{i // 30 + 1:03d}",
                    f"v{i // 30 + 1:03d}",
                    f"v{i // 30:03d}",
                    "info",
                    "pricing.anthropic.claude-3-5-haiku-v1 changed",
                )
            )
        for _ in range(int(rng.integers(0, 3))):
            kind = DRIFT_KINDS[int(rng.integers(0, len(DRIFT_KINDS)))]
            tenant = list(TENANTS)[int(rng.integers(0, len(TENANTS)))]
            severity = ["high", "medium", "low"][int(rng.integers(0, 3))]
            rows.append(
                (
                    day,
                    tenant,
                    kind,
                    f"{tenant}/subject",
                    "0.12",
                    "0.05",
                    severity,
                    f"{kind.replace('_', ' ')} observed for {tenant}",
                )
            )
    return pd.DataFrame(
        rows, columns=["day", "tenant_id", "kind", "subject", "observed", "expected", "severity", "detail"]
    )


def _loadtests(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i, day in enumerate(days[::4]):
        scenario = ["fallback", "saturation", "budget"][i % 3]
        verdict = "fail" if rng.random() < 0.2 else "pass"
        started = datetime(day.year, day.month, day.day, 14, 0, tzinfo=UTC)
        criteria = [
            {
                "name": "p95_ms",
                "threshold": 3000,
                "measured": float(rng.uniform(800, 3500)),
                "passed": verdict == "pass",
                "source": "locust",
            }
        ]
        rows.append(
            (
                f"{scenario}-{day:%Y%m%d}",
                scenario,
                started,
                60.0,
                verdict,
                int(rng.integers(2000, 9000)),
                float(rng.uniform(40, 150)),
                float(rng.uniform(600, 3500)),
                float(rng.uniform(0, 0.05)),
                float(rng.uniform(0, 0.3)),
                json.dumps(criteria),
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "scenario",
            "started_at",
            "duration_s",
            "verdict",
            "requests",
            "rps",
            "p95_ms",
            "error_rate",
            "fallback_rate",
            "details",
        ],
    )


def _slo_alerts(slo: pd.DataFrame) -> pd.DataFrame:
    fired = slo[slo["burn_rate"] >= 6].copy()
    fired["severity"] = np.where(fired["burn_rate"] >= 14.4, "page", "ticket")
    fired["long_window"] = np.where(fired["burn_rate"] >= 14.4, "1h", "6h")
    fired["short_window"] = np.where(fired["burn_rate"] >= 14.4, "5m", "30m")
    fired["threshold"] = np.where(fired["burn_rate"] >= 14.4, 14.4, 6.0)
    return fired[
        [
            "day",
            "latency_class",
            "model_route",
            "severity",
            "long_window",
            "short_window",
            "burn_rate",
            "threshold",
        ]
    ]


def build(path: Path, *, start: date, days: int, seed: int = 7, scale: float = 1.0) -> Path:
    """Write a warehouse of synthetic marts to ``path`` and return it."""
    rng = np.random.default_rng(seed)
    calendar = [start + timedelta(days=i) for i in range(days)]
    cost = _cost_daily(calendar, rng, scale)
    slo = _slo_daily(calendar, rng)
    tables = {
        "cost_daily": cost,
        "slo_daily": slo,
        "policy_drift": _policy_drift(calendar, rng),
        "loadtest_runs": _loadtests(calendar, rng),
        "slo_alerts": _slo_alerts(slo),
    }
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM frame")  # fixed names, not input
            con.unregister("frame")
        con.execute((Path(__file__).with_name("fake_showback.sql")).read_text())
        budgets = pd.DataFrame(
            [(t, b) for t, (_, b, _) in TENANTS.items()], columns=["tenant_id", "budget_usd"]
        )
        con.register("budgets", budgets)
        con.execute(
            "UPDATE marts.showback_monthly s SET budget_usd = b.budget_usd, "
            "budget_used_pct = 100 * s.cost_usd / b.budget_usd FROM budgets b WHERE b.tenant_id = s.tenant_id"
        )
    return path
