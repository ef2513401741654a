"""A warehouse of synthetic marts with the pipeline's columns, for the benchmark's year and swap tests.

Deterministic for a seed; ``days`` long from ``start``. cost_daily, slo_daily, policy_drift,
loadtest_runs and slo_alerts are synthesised; showback_monthly and budget_status are then built by the
pipeline's own SQL (analytics/sql), so the pages can be measured on a year of marts without
simulating a year of traffic.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics.sql_files import load_sql

# tenant -> (team, monthly budget, share of the budget it spends on average, apps)
TENANTS = {
    "acme": ("payments", 2500.0, 0.8, ["checkout-assistant", "dispute-summariser", "finance-analytics"]),
    "globex": ("support", 2500.0, 0.95, ["support-desk", "knowledge-bot", "ticket-classifier"]),
    "initech": ("search", 900.0, 1.1, ["ai-search", "doc-indexer", "legacy-reports"]),
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
DRIFT_KINDS = {
    "allowlist_violation": "high",
    "budget_overrun": "high",
    "fallback_rate_shift": "warning",
    "block_rate_shift": "warning",
    "untagged_spend": "warning",
    "prompt_version_change": "info",
}


def _cost_daily(days: list[date], rng: np.random.Generator, scale: float, workflows: int) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for tenant, (team, budget, share, apps) in TENANTS.items():
        first = len(rows)
        for app, flow in ((app, flow) for app in apps for flow in range(workflows)):
            for lane in LANES:
                for provider, model, per_token in MODELS[: 2 + len(app) % 3]:
                    base = rng.uniform(20, 200)
                    for i, day in enumerate(days):
                        requests = int(base * (1 + 0.3 * np.sin(i / 5)) * rng.uniform(0.8, 1.2)) + 1
                        tokens_in = requests * int(rng.integers(300, 900))
                        tokens_out = requests * int(rng.integers(80, 300))
                        cost = (tokens_in + 3 * tokens_out) * per_token
                        rows.append({
                            "day": day, "tenant_id": tenant, "team": team, "app_id": app,
                            "workflow": f"{app}-{flow}", "latency_class": lane, "model_provider": provider,
                            "model_name": model, "requests": requests, "ok_requests": requests,
                            "input_tokens": tokens_in, "output_tokens": tokens_out, "cost_usd": cost,
                        })  # fmt: skip
        # Scale the tenant so an average month spends ``share`` of its budget (demo-like numbers).
        total = sum(row["cost_usd"] for row in rows[first:])
        factor = scale * share * budget * len(days) / 30.4 / total
        for row in rows[first:]:
            row["cost_usd"] *= factor
            row["estimated_cost_usd"] = row["cost_usd"] * rng.uniform(0.99, 1.01)
            row.update(_cost_split(row))
    return pd.DataFrame(rows)


def _cost_split(row: dict[str, Any]) -> dict[str, Any]:
    """cost_daily's split columns in fixed shares of cost_usd (no random draws: the seeded figures
    of the other columns stay as they were)."""
    cost = row["cost_usd"]
    return {"cache_read_tokens": row["input_tokens"] // 10, "cache_write_tokens": 0,
            "reasoning_tokens": row["output_tokens"] // 10, "input_cost_usd": 0.3 * cost,
            "cached_input_cost_usd": 0.02 * cost, "output_cost_usd": 0.6 * cost,
            "reasoning_cost_usd": 0.08 * cost, "request_cost_usd": 0.0, "input_images": 0,
            "image_cost_usd": 0.0}


def _slo_daily(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for lane, (target_ms, availability_target, routes) in LANES.items():
        for route in routes:
            for day in days:
                requests = int(rng.integers(500, 3000))
                bad_day = rng.random() < 0.05
                errors = int(requests * (rng.uniform(0.02, 0.08) if bad_day else rng.uniform(0, 0.004)))
                policy = int(requests * 0.01)
                ok = requests - errors - policy
                p95 = target_ms * rng.uniform(0.6, 1.2 if bad_day else 0.95)
                error_rate = errors / (ok + errors)
                rows.append({
                    "day": day, "latency_class": lane, "model_route": route, "requests": requests, "ok": ok,
                    "errors": errors, "policy_outcomes": policy, "availability": ok / (ok + errors),
                    "p50_ms": target_ms * rng.uniform(0.15, 0.3), "p95_ms": p95, "p99_ms": p95 * 1.3,
                    "latency_target_ms": target_ms,
                    "within_latency_pct": float(rng.uniform(88, 94) if bad_day else rng.uniform(95.5, 99.9)),
                    "availability_target": availability_target,
                    "error_budget_remaining_pct": 100 * (1 - error_rate / (1 - availability_target)),
                    "burn_rate": error_rate / (1 - availability_target),
                })  # fmt: skip
    return pd.DataFrame(rows)


def _policy_drift(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    kinds = list(DRIFT_KINDS)
    for i, day in enumerate(days):
        if i % 30 == 3:
            version = f"{i // 30 + 1:03d}abc"
            rows.append({
                "day": day, "tenant_id": None, "kind": "policy_change", "subject": version, "observed": 2.0,
                "expected": None, "severity": "info",
                "detail": f"policy {i // 30:03d}abc -> {version}; changed: pricing, tenants.acme",
            })  # fmt: skip
        for _ in range(int(rng.integers(0, 3))):
            kind = kinds[int(rng.integers(0, len(kinds)))]
            tenant = list(TENANTS)[int(rng.integers(0, len(TENANTS)))]
            rows.append({
                "day": day, "tenant_id": tenant, "kind": kind, "subject": f"{tenant}-flow", "observed": 0.12,
                "expected": 0.05, "severity": DRIFT_KINDS[kind], "detail": f"{kind}: {tenant}",
            })  # fmt: skip
    return pd.DataFrame(rows)


def _loadtests(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for i, day in enumerate(days[::4]):
        scenario = ["fallback", "saturation", "budget"][i % 3]
        verdict = "fail" if rng.random() < 0.2 else "pass"
        run_id = f"{scenario}-{day:%Y%m%d}"
        criteria = [{"name": "p95_ms", "threshold": 3000, "measured": float(rng.uniform(800, 3500)),
                     "passed": verdict == "pass", "source": "locust"}]  # fmt: skip
        requests, unexpected = int(rng.integers(2000, 9000)), int(rng.integers(0, 3))
        refused = float(rng.uniform(0.1, 0.5)) if scenario != "fallback" else 0.0
        rows.append({
            "run_id": run_id, "scenario": scenario,
            "started_at": datetime(day.year, day.month, day.day, 14, 0, tzinfo=UTC).replace(tzinfo=None),
            "duration_s": 60.0, "verdict": verdict, "requests": requests,
            "rps": float(rng.uniform(40, 150)), "p95_ms": float(rng.uniform(600, 3500)),
            "error_rate": refused + unexpected / requests, "fallback_rate": float(rng.uniform(0, 0.3)),
            "refused_as_designed_rate": refused, "unexpected_errors": unexpected,
            "details": json.dumps(criteria), "source_path": f"loadtests/{run_id}/summary.json",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _slo_alerts(slo: pd.DataFrame) -> pd.DataFrame:
    fired = slo[slo["burn_rate"] >= 6].copy()
    page = fired["burn_rate"] >= 14.4
    fired["severity"] = np.where(page, "page", "ticket")
    fired["long_window"] = np.where(page, "1h", "6h")
    fired["short_window"] = np.where(page, "5m", "30m")
    fired["burn_rate_threshold"] = np.where(page, 14.4, 6.0)
    fired["fired_at"] = pd.to_datetime(fired["day"]) + pd.Timedelta(hours=10)
    fired["last_firing_at"] = fired["fired_at"] + pd.Timedelta(minutes=45)
    fired["evaluations"] = 9
    fired["peak_long_burn_rate"] = fired["burn_rate"]
    fired["peak_short_burn_rate"] = fired["burn_rate"] * 1.4
    return fired[["day", "latency_class", "model_route", "severity", "long_window", "short_window",
                  "burn_rate_threshold", "availability_target", "fired_at", "last_firing_at", "evaluations",
                  "peak_long_burn_rate", "peak_short_burn_rate"]]  # fmt: skip


def build(
    path: Path, *, start: date, days: int, seed: int = 7, scale: float = 1.0, workflows: int = 1
) -> Path:
    """Write a warehouse of synthetic marts to ``path`` and return it (``workflows`` per app)."""
    rng = np.random.default_rng(seed)
    calendar = [start + timedelta(days=i) for i in range(days)]
    slo = _slo_daily(calendar, rng)
    tables = {
        "marts.cost_daily": _cost_daily(calendar, rng, scale, workflows),
        "marts.slo_daily": slo,
        "marts.slo_alerts": _slo_alerts(slo),
        "marts.policy_drift": _policy_drift(calendar, rng),
        "marts.loadtest_runs": _loadtests(calendar, rng),
        "ref.budgets": pd.DataFrame(
            [(tenant, team, budget) for tenant, (team, budget, _, _) in TENANTS.items()],
            columns=["tenant_id", "team", "monthly_budget_usd"],
        ),
    }
    with duckdb.connect(str(path)) as con:
        con.execute(load_sql("schema"))  # the pipeline's schemas and macros
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")  # names are the constants above
            con.unregister("frame")
        con.execute(load_sql("showback_monthly"))
        con.execute(load_sql("budget_status"))
    return path
