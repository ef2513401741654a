"""The marts computed independently, with polars and plain Python, from the events the test wrote.

Nothing here reads the warehouse or the pipeline's SQL: these are the definitions of docs/analysts.md
written a second time, so a wrong join, filter or window in the SQL shows up as a mismatch.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from typing import Any

import polars as pl
import pyarrow as pa

from gateway_shim.config import Config
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA

PCTS = (0.5, 0.95, 0.99)
COST_KEYS = [
    "day",
    "tenant_id",
    "team",
    "app_id",
    "workflow",
    "latency_class",
    "model_provider",
    "model_name",
]
SLO_KEYS = ["latency_class", "model_route"]
COST_PARTS = ("input_cost_usd", "cached_input_cost_usd", "output_cost_usd", "reasoning_cost_usd",
              "request_cost_usd", "image_cost_usd")


def events_frame(events: list[dict[str, Any]], config: Config) -> pl.DataFrame:
    """The events with their day, SLO class and cost at the price of the day (priced one by one)."""
    table = pa.Table.from_pylist([{c: e.get(c) for c in EVENT_COLUMNS} for e in events], schema=EVENT_SCHEMA)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    parts: dict[str, list[float]] = {name: [] for name in COST_PARTS}
    was_charged = [charged(e) for e in events]
    for e in events:
        split = cost_parts(e, config)
        for name in COST_PARTS:
            parts[name].append(split[name])
    status = pl.col("status_code").fill_null(0)
    return frame.with_columns(
        ts=pl.col("ts").dt.replace_time_zone(None),
        day=pl.col("ts").dt.date(),
        cost=pl.Series([sum(values) for values in zip(*parts.values(), strict=True)], dtype=pl.Float64),
        charged=pl.Series(was_charged, dtype=pl.Boolean),
        **{name: pl.Series(values, dtype=pl.Float64) for name, values in parts.items()},
        latency=pl.col("total_latency_ms").cast(pl.Float64),
        is_error=(pl.col("outcome") == "upstream_error") | (status >= 500),
        is_ok=(pl.col("outcome") == "ok") & (status < 500),
        is_policy=pl.col("outcome").is_in(["blocked", "throttled", "budget_exceeded"]) & (status < 500),
        is_client=(pl.col("outcome") == "client_error") & (status < 500),
    )


def charged(e: dict[str, Any]) -> bool:
    """Whether the gateway charged the call, read from its event as docs/analysts.md says: a cost
    above 0 (usage or a hung-up stream's estimate was priced), or an ok answer with tokens (its
    model may lack a price). A failure without the provider's usage shows the estimate at cost 0;
    an operation recorded unpriced has no cost at all."""
    usd = e["estimated_cost_usd"]
    if usd is None:
        return False
    served_tokens = (e["input_tokens"] or 0) + (e["output_tokens"] or 0) > 0
    return usd > 0 or (e["outcome"] == "ok" and served_tokens)


def cost_parts(e: dict[str, Any], config: Config) -> dict[str, float]:
    """One event's cost at the price of its day, split as docs/analysts.md defines it."""
    if not charged(e):
        return dict.fromkeys(COST_PARTS, 0.0)
    tokens_in, tokens_out = e["input_tokens"] or 0, e["output_tokens"] or 0
    price = config.price_on(e["model_name"], e["ts"].date())
    assert price is not None
    read, write = e.get("cache_read_tokens") or 0, e.get("cache_write_tokens") or 0
    reasoning = e.get("reasoning_tokens") or 0
    read_price = price.input_per_mtok if price.cache_read_per_mtok is None else price.cache_read_per_mtok
    write_price = price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    return {
        "input_cost_usd": (tokens_in - read - write) * price.input_per_mtok / 1e6,
        "cached_input_cost_usd": (read * read_price + write * write_price) / 1e6,
        "output_cost_usd": (tokens_out - reasoning) * price.output_per_mtok / 1e6,
        "reasoning_cost_usd": reasoning * price.output_per_mtok / 1e6,
        "request_cost_usd": price.per_request_usd,
        "image_cost_usd": (e.get("input_images") or 0) * price.input_image_usd,
    }


def cost_daily(ev: pl.DataFrame) -> pl.DataFrame:
    """Tenant spend: load-test runs (``lt-…`` run ids) are left out."""
    tenant_traffic = ev.filter(~pl.col("run_id").fill_null("").str.starts_with("lt-"))
    return tenant_traffic.group_by(COST_KEYS).agg(
        requests=pl.len(),
        ok_requests=pl.col("is_ok").sum(),
        input_tokens=pl.col("input_tokens").cast(pl.Int64).sum(),
        output_tokens=pl.col("output_tokens").cast(pl.Int64).sum(),
        cost_usd=pl.col("cost").sum(),
        estimated_cost_usd=pl.col("estimated_cost_usd").sum(),
        # the parts of the cost count the calls the gateway charged only
        **{name: pl.col(name).cast(pl.Int64).fill_null(0).filter(pl.col("charged")).sum()
           for name in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "input_images")},
        priced_requests=pl.col("charged").sum(),
        priced_input_tokens=pl.col("input_tokens").cast(pl.Int64).fill_null(0).filter(pl.col("charged")).sum(),
        priced_output_tokens=pl.col("output_tokens").cast(pl.Int64).fill_null(0).filter(pl.col("charged")).sum(),
        **{name: pl.col(name).sum() for name in COST_PARTS},
    )


def showback_monthly(cost: pl.DataFrame, config: Config) -> pl.DataFrame:
    budgets = pl.DataFrame(
        {
            "tenant_id": list(config.tenants),
            "budget_usd": [t.monthly_budget_usd for t in config.tenants.values()],
        }
    )
    monthly = (
        cost.with_columns(month=pl.col("day").dt.truncate("1mo"))
        .group_by(["month", "tenant_id", "team", "app_id"])
        .agg(requests=pl.col("requests").sum(), cost_usd=pl.col("cost_usd").sum(),
             **{name: pl.col(name).sum() for name in COST_PARTS})
    )
    prev = monthly.select(
        month=pl.col("month").dt.offset_by("1mo"),
        tenant_id="tenant_id",
        team="team",
        app_id="app_id",
        prev_month_cost_usd="cost_usd",
    )
    tenant = monthly.group_by(["month", "tenant_id"]).agg(tenant_cost_usd=pl.col("cost_usd").sum())
    return (
        monthly.join(budgets, on="tenant_id", how="left", nulls_equal=True)
        .join(tenant, on=["month", "tenant_id"], how="left", nulls_equal=True)
        .join(prev, on=["month", "tenant_id", "team", "app_id"], how="left", nulls_equal=True)
        .with_columns(
            budget_used_pct=100 * pl.col("cost_usd") / pl.col("budget_usd"),
            tenant_budget_used_pct=100 * pl.col("tenant_cost_usd") / pl.col("budget_usd"),
            change_pct=100
            * (pl.col("cost_usd") - pl.col("prev_month_cost_usd"))
            / pl.col("prev_month_cost_usd"),
        )
    )


def budget_status(cost: pl.DataFrame, config: Config) -> list[dict[str, Any]]:
    rows = []
    days = cost.get_column("day").to_list()
    for month in sorted({d.replace(day=1) for d in days}):
        as_of = max(d for d in days if d.replace(day=1) == month)
        in_month = cost.filter(pl.col("day").dt.truncate("1mo") == month)
        days_in_month = calendar.monthrange(month.year, month.month)[1]
        for tenant_id, tenant in sorted(config.tenants.items()):
            mtd = float(in_month.filter(pl.col("tenant_id") == tenant_id).get_column("cost_usd").sum())
            rate = mtd / as_of.day
            budget = tenant.monthly_budget_usd
            forecast = rate * days_in_month
            spent = budget - mtd < 0.01  # less than a cent left: the gateway admits no more spend
            if mtd > budget:
                status = "over_budget"
            else:
                status = "exhausted" if spent else ("at_risk" if forecast > budget else "ok")
            rows.append(
                {
                    "month": month,
                    "as_of_day": as_of,
                    "tenant_id": tenant_id,
                    "mtd_cost_usd": mtd,
                    "forecast_month_end_usd": forecast,
                    "days_to_exhaustion": 0.0 if spent else ((budget - mtd) / rate if rate > 0 else None),
                    "status": status,
                }
            )
    return rows


def _slo(ev: pl.DataFrame, period: str, config: Config) -> pl.DataFrame:
    targets = pl.DataFrame(
        {
            "latency_class": list(config.lanes),
            "target_ms": [lane.slo.latency_ms for lane in config.lanes.values()],
            "availability_target": [lane.slo.availability for lane in config.lanes.values()],
        }
    )
    frame = ev.join(targets, on="latency_class", how="left")
    ok_latency = pl.col("latency").filter(pl.col("is_ok"))
    aggregated = frame.group_by([period, *SLO_KEYS]).agg(
        requests=pl.len(),
        ok=pl.col("is_ok").sum(),
        errors=pl.col("is_error").sum(),
        policy_outcomes=pl.col("is_policy").sum(),
        client_errors=pl.col("is_client").sum(),
        within=(pl.col("is_ok") & (pl.col("latency") <= pl.col("target_ms"))).sum(),
        availability_target=pl.col("availability_target").first(),
        **{f"p{int(q * 100)}_ms": ok_latency.quantile(q, interpolation="linear") for q in PCTS},
    )
    eligible = pl.col("ok") + pl.col("errors")
    return aggregated.with_columns(
        availability=pl.when(eligible > 0).then(pl.col("ok") / eligible),
        within_latency_pct=pl.when(pl.col("ok") > 0).then(100 * pl.col("within") / pl.col("ok")),
        burn_rate=pl.when(eligible > 0).then(
            pl.col("errors") / eligible / (1 - pl.col("availability_target"))
        ),
    )


def slo_daily(ev: pl.DataFrame, config: Config) -> pl.DataFrame:
    daily = _slo(ev, "day", config).sort("day")
    month = pl.col("day").dt.truncate("1mo")
    over = [*SLO_KEYS, month]
    eligible = (pl.col("ok") + pl.col("errors")).cum_sum().over(over)
    allowed = (1 - pl.col("availability_target")) * eligible
    return daily.with_columns(
        error_budget_remaining_pct=pl.when(eligible > 0).then(
            100 * (1 - pl.col("errors").cum_sum().over(over) / allowed)
        )
    )


def slo_monthly(ev: pl.DataFrame, config: Config) -> pl.DataFrame:
    return _slo(ev.with_columns(month=pl.col("day").dt.truncate("1mo")), "month", config)


RULES = (
    ("page", "1h", "5m", 14.4, 60, 5),
    ("page", "6h", "30m", 6.0, 360, 30),
    ("ticket", "3d", "6h", 1.0, 4320, 360),
)


def slo_alerts(ev: pl.DataFrame, config: Config) -> list[tuple[Any, ...]]:
    """Brute force: at the end of every 5-minute bucket with ok/error traffic, count both windows."""
    rows = ev.filter(pl.col("is_ok") | pl.col("is_error")).select([*SLO_KEYS, "ts", "is_error"]).rows()
    by_series: dict[tuple[Any, Any], list[tuple[dt.datetime, bool]]] = defaultdict(list)
    for lane, route, ts, is_error in rows:
        by_series[(lane, route)].append((ts, is_error))
    alerts = []
    for (lane, route), points in by_series.items():
        allowed = 1 - config.lanes[lane].slo.availability
        ends = sorted({_bucket(ts) + dt.timedelta(minutes=5) for ts, _ in points})
        for severity, long_name, short_name, threshold, long_min, short_min in RULES:
            firing = []
            for end in ends:
                rates = []
                for minutes in (long_min, short_min):
                    start = end - dt.timedelta(minutes=minutes)
                    window = [e for ts, e in points if start <= ts < end]
                    rates.append(sum(window) / len(window) / allowed)
                if all(rate > threshold for rate in rates):
                    firing.append(end)
            for first, last in _runs(firing):
                alerts.append((lane, route, severity, long_name, short_name, first, last))
    return sorted(alerts, key=lambda a: (a[5], a[0], a[1], a[3]))


def _bucket(ts: dt.datetime) -> dt.datetime:
    return ts.replace(minute=ts.minute - ts.minute % 5, second=0, microsecond=0)


def _runs(moments: list[dt.datetime]) -> list[tuple[dt.datetime, dt.datetime]]:
    runs: list[tuple[dt.datetime, dt.datetime]] = []
    for moment in moments:
        if runs and moment - runs[-1][1] == dt.timedelta(minutes=5):
            runs[-1] = (runs[-1][0], moment)
        else:
            runs.append((moment, moment))
    return runs


def _allowed(document: dict[str, Any], sensitivity: str, provider: str, model: str) -> bool:
    rule = document["data_classes"].get(sensitivity)
    if rule is None:
        return False
    provider_ok = "*" in rule["providers"] or provider in rule["providers"]
    return provider_ok and (not rule.get("models") or model in rule["models"])


def policy_drift(
    ev: pl.DataFrame,
    cost: pl.DataFrame,
    versions: dict[str, Config],
    current: Config,
    thresholds: dict[str, float],
) -> dict[tuple[Any, ...], float | None]:
    """(day, tenant_id, kind, subject) -> observed, for every finding the mart must hold."""
    found: dict[tuple[Any, ...], float | None] = {}
    documents = {v: json.loads(c.canonical_json()) for v, c in versions.items()}
    served = ev.filter((pl.col("outcome") == "ok") & pl.col("model_name").is_not_null())
    for row in (
        served.group_by(["day", "tenant_id", "sensitivity", "model_provider", "model_name", "policy_version"])
        .len()
        .iter_rows(named=True)
    ):
        if not _allowed(
            documents[row["policy_version"]], row["sensitivity"], row["model_provider"], row["model_name"]
        ):
            subject = f"{row['sensitivity']} -> {row['model_provider']}/{row['model_name']}"
            key = (row["day"], row["tenant_id"], "allowlist_violation", subject)
            found[key] = (found.get(key) or 0) + row["len"]
    weekly = (
        ev.filter(pl.col("workflow").is_not_null())
        .with_columns(week=pl.col("day").dt.truncate("1w"))
        .group_by(["week", "tenant_id", "workflow"])
        .agg(
            requests=pl.len(),
            fallback_rate=pl.col("fallback_used").fill_null(False).mean(),
            block_rate=(pl.col("outcome") == "blocked").mean(),
            cost_per_request=pl.col("cost").sum() / pl.col("is_ok").sum(),
            tokens_per_request=(pl.col("input_tokens").sum() + pl.col("output_tokens").sum())
            / pl.col("is_ok").sum(),
        )
    )
    index = {(r["week"], r["tenant_id"], r["workflow"]): r for r in weekly.iter_rows(named=True)}
    for (week, tenant, workflow), cur in index.items():
        prev = index.get((week - dt.timedelta(days=7), tenant, workflow))
        if prev is None or min(cur["requests"], prev["requests"]) < thresholds["min_requests"]:
            continue
        for metric in ("fallback_rate", "block_rate", "cost_per_request", "tokens_per_request"):
            now, before = cur[metric], prev[metric]
            change = abs(now - before)
            if metric.endswith("_rate"):
                shifted = change >= thresholds["rate_floor"] and (
                    before == 0 or change / before >= thresholds["shift_threshold"]
                )
            else:
                shifted = before > 0 and change / before >= thresholds["shift_threshold"]
            if shifted:
                found[(week, tenant, f"{metric}_shift", workflow)] = now
    untagged = (
        cost.filter(pl.col("tenant_id").is_not_null())
        .group_by(["day", "tenant_id"])
        .agg(
            share=pl.col("cost_usd")
            .filter((pl.col("workflow").fill_null("") == "") | (pl.col("app_id").fill_null("") == ""))
            .sum()
            / pl.col("cost_usd").sum(),
            total=pl.col("cost_usd").sum(),
        )
    )
    for row in untagged.iter_rows(named=True):
        if row["total"] > 0 and row["share"] > thresholds["untagged_share"]:
            found[(row["day"], row["tenant_id"], "untagged_spend", "workflow/app tags")] = row["share"]
    prompts = (
        ev.filter((pl.col("prompt_version").fill_null("") != "") & pl.col("workflow").is_not_null())
        .group_by(["tenant_id", "workflow", "prompt_version"])
        .agg(first=pl.col("ts").min(), requests=pl.len())
        .sort(["tenant_id", "workflow", "first", "prompt_version"])
    )
    seen: set[tuple[Any, Any]] = set()
    for row in prompts.iter_rows(named=True):
        series = (row["tenant_id"], row["workflow"])
        if series in seen:
            found[(row["first"].date(), row["tenant_id"], "prompt_version_change", row["workflow"])] = row[
                "requests"
            ]
        seen.add(series)
    spend = cost.group_by(["day", "tenant_id"]).agg(c=pl.col("cost_usd").sum()).sort("day")
    for tenant_id, tenant in current.tenants.items():
        total, month, reported = 0.0, None, False
        for day, c in spend.filter(pl.col("tenant_id") == tenant_id).select(["day", "c"]).rows():
            if day.replace(day=1) != month:
                month, total, reported = day.replace(day=1), 0.0, False
            total += c
            if total > tenant.monthly_budget_usd and not reported:
                found[(day, tenant_id, "budget_overrun", day.strftime("%Y-%m"))] = total
                reported = True
    return found
