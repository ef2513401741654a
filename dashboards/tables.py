"""The review's tables, computed from mart slices: pure functions of DataFrames, tested without Streamlit.

Every figure on screen and in the review pack comes from here, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SEVERITY_ORDER = ("high", "warning", "info")


@dataclass(frozen=True)
class Headline:
    """The six numbers a platform lead looks at first."""

    month: str
    spend_usd: float
    prev_spend_usd: float | None
    change_pct: float | None
    budget_usd: float
    budget_used: float | None
    tenants_over_budget: int
    lanes_meeting_slo: int
    lanes_total: int
    availability: float | None
    drift_findings: int
    drift_high: int
    loadtests_passed: int
    loadtests_failed: int


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def tenant_spend(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Per tenant: requests, spend, budget, budget use (fraction) and change vs the previous month.

    ``current``/``previous`` are showback_monthly rows of one month each. A tenant's budget is a
    tenant-level figure repeated on each of its app rows, so it is taken once per tenant.
    """
    columns = [
        "tenant_id",
        "team",
        "requests",
        "cost_usd",
        "budget_usd",
        "budget_used",
        "prev_cost_usd",
        "change_usd",
        "change_pct",
    ]
    if current.empty:
        return pd.DataFrame(columns=columns)
    grouped = current.groupby("tenant_id", as_index=False).agg(
        team=("team", "first"),
        requests=("requests", "sum"),
        cost_usd=("cost_usd", "sum"),
        budget_usd=("budget_usd", "max"),
    )
    prev = previous.groupby("tenant_id")["cost_usd"].sum() if not previous.empty else pd.Series(dtype=float)
    grouped["prev_cost_usd"] = grouped["tenant_id"].map(prev).astype(float)
    grouped["budget_used"] = grouped["cost_usd"] / grouped["budget_usd"].where(grouped["budget_usd"] > 0)
    grouped["change_usd"] = grouped["cost_usd"] - grouped["prev_cost_usd"]
    grouped["change_pct"] = grouped["change_usd"] / grouped["prev_cost_usd"].where(
        grouped["prev_cost_usd"] > 0
    )
    return grouped[columns].sort_values("cost_usd", ascending=False, ignore_index=True)


def budgets(budget_status: pd.DataFrame) -> pd.DataFrame:
    """marts.budget_status in the dashboard's terms: fractions instead of percents, forecast beside actual."""
    frame = budget_status.rename(
        columns={"mtd_cost_usd": "cost_usd", "forecast_month_end_usd": "forecast_usd"}
    ).assign(
        budget_used=budget_status["mtd_used_pct"] / 100,
        forecast_used=budget_status["forecast_used_pct"] / 100,
    )
    return frame[
        [
            "tenant_id",
            "team",
            "cost_usd",
            "forecast_usd",
            "budget_usd",
            "budget_used",
            "forecast_used",
            "status",
            "days_to_exhaustion",
        ]
    ].reset_index(drop=True)


def lane_slo(slo_daily: pd.DataFrame, latency_percentile: float = 95.0) -> pd.DataFrame:
    """Per lane over the period: availability and latency attainment against the lane's targets.

    Latency is met when the share of requests within the target is at least the SLO percentile
    (p95 <= target  <=>  >= 95% of requests within target).
    """
    return _slo_rollup(slo_daily, ["latency_class"], latency_percentile)


def route_slo(slo_daily: pd.DataFrame, latency_percentile: float = 95.0) -> pd.DataFrame:
    """Per lane and route over the period, with the error budget consumed and remaining."""
    return _slo_rollup(slo_daily, ["latency_class", "model_route"], latency_percentile)


def _slo_rollup(slo_daily: pd.DataFrame, keys: list[str], latency_percentile: float) -> pd.DataFrame:
    """Sum the days: availability = ok / (ok + errors) and latency attainment weighted by ok requests,
    the definitions of marts.slo_daily, so a month's figures follow from its days exactly."""
    columns = [
        *keys,
        "requests",
        "ok",
        "errors",
        "availability",
        "availability_target",
        "within_latency_pct",
        "latency_target_ms",
        "p95_ms_worst",
        "latency_met",
        "availability_met",
        "slo_met",
        "error_budget_used",
        "error_budget_remaining",
    ]
    if slo_daily.empty:
        return pd.DataFrame(columns=columns)
    frame = slo_daily.assign(within_weighted=slo_daily["within_latency_pct"].fillna(0) * slo_daily["ok"])
    rolled = frame.groupby(keys, as_index=False).agg(
        requests=("requests", "sum"),
        ok=("ok", "sum"),
        errors=("errors", "sum"),
        availability_target=("availability_target", "max"),
        latency_target_ms=("latency_target_ms", "max"),
        within_weighted=("within_weighted", "sum"),
        p95_ms_worst=("p95_ms", "max"),
    )
    eligible = (rolled["ok"] + rolled["errors"]).where(lambda s: s > 0)
    rolled["availability"] = rolled["ok"] / eligible
    rolled["within_latency_pct"] = rolled["within_weighted"] / rolled["ok"].where(rolled["ok"] > 0)
    rolled["availability_met"] = rolled["availability"] >= rolled["availability_target"]
    rolled["latency_met"] = rolled["within_latency_pct"] >= latency_percentile
    rolled["slo_met"] = rolled["availability_met"] & rolled["latency_met"]
    allowed = (1 - rolled["availability_target"]).where(lambda s: s > 0)
    rolled["error_budget_used"] = (rolled["errors"] / eligible) / allowed
    rolled["error_budget_remaining"] = 1 - rolled["error_budget_used"]
    return rolled[columns].sort_values(keys, ignore_index=True)


def burned_error_budget(routes: pd.DataFrame, alerts: pd.DataFrame, threshold: float = 0.10) -> pd.DataFrame:
    """Lane/route pairs that used at least ``threshold`` of their error budget or raised an alert."""
    if routes.empty:
        return routes.assign(alerts=pd.Series(dtype=int))
    fired = (
        alerts.groupby(["latency_class", "model_route"]).size() if not alerts.empty else pd.Series(dtype=int)
    )
    index = pd.MultiIndex.from_frame(routes[["latency_class", "model_route"]])
    counts = fired.reindex(index, fill_value=0).to_numpy()
    flagged = routes.assign(alerts=counts)
    keep = (flagged["error_budget_used"].fillna(0) >= threshold) | (flagged["alerts"] > 0)
    return flagged[keep].sort_values("error_budget_remaining", ignore_index=True)


def cost_movers(current: pd.DataFrame, previous: pd.DataFrame, keys: list[str], top: int = 5) -> pd.DataFrame:
    """The ``top`` groups (by ``keys``) whose spend changed most in dollars between two periods."""
    cur = current.groupby(keys)["cost_usd"].sum().rename("cost_usd")
    prev = previous.groupby(keys)["cost_usd"].sum().rename("prev_cost_usd")
    both = pd.concat([cur, prev], axis=1).fillna(0.0).reset_index()
    if both.empty:
        return pd.DataFrame(columns=[*keys, "cost_usd", "prev_cost_usd", "change_usd", "change_pct"])
    both["change_usd"] = both["cost_usd"] - both["prev_cost_usd"]
    both["change_pct"] = both["change_usd"] / both["prev_cost_usd"].where(both["prev_cost_usd"] > 0)
    order = both["change_usd"].abs().sort_values(ascending=False).index
    return both.loc[order].head(top).reset_index(drop=True)


def unit_costs(cost_daily: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cost per request and per 1k tokens (input + output) for each group."""
    grouped = cost_daily.groupby(keys, as_index=False).agg(
        requests=("requests", "sum"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    tokens = (grouped["input_tokens"] + grouped["output_tokens"]).where(lambda s: s > 0)
    grouped["cost_per_request_usd"] = grouped["cost_usd"] / grouped["requests"].where(grouped["requests"] > 0)
    grouped["cost_per_1k_tokens_usd"] = grouped["cost_usd"] / (tokens / 1000)
    return grouped.sort_values("cost_usd", ascending=False, ignore_index=True)


def severity_counts(drift: pd.DataFrame) -> dict[str, int]:
    """Findings per severity, in the order a lead reads them."""
    counts = drift["severity"].value_counts() if not drift.empty else pd.Series(dtype=int)
    known = {severity: int(counts.get(severity, 0)) for severity in SEVERITY_ORDER}
    others = {str(k): int(v) for k, v in counts.items() if k not in known}
    return {**known, **others}


def drift_summary(drift: pd.DataFrame) -> pd.DataFrame:
    """One row per kind of finding: severity, count, tenants and the last day seen; worst kinds first."""
    columns = ["kind", "severity", "findings", "tenants", "last_day"]
    if drift.empty:
        return pd.DataFrame(columns=columns)
    summary = drift.groupby(["kind", "severity"], as_index=False).agg(
        findings=("day", "size"),
        tenants=(
            "tenant_id",
            lambda owners: ", ".join(sorted({str(o) for o in owners if o and o != "(none)"})) or "—",
        ),
        last_day=("day", "max"),
    )
    rank = (
        summary["severity"]
        .map({name: i for i, name in enumerate(SEVERITY_ORDER)})
        .fillna(len(SEVERITY_ORDER))
    )
    return (
        summary.assign(rank=rank)
        .sort_values(["rank", "findings"], ascending=[True, False])[columns]
        .reset_index(drop=True)
    )


def headline(
    month: str,
    tenants: pd.DataFrame,
    prev_month_present: bool,
    lanes: pd.DataFrame,
    drift: pd.DataFrame,
    loadtests: pd.DataFrame,
) -> Headline:
    """Fold the per-tenant, per-lane, drift and load-test slices of one month into the headline."""
    spend = float(tenants["cost_usd"].sum())
    prev = float(tenants["prev_cost_usd"].fillna(0).sum()) if prev_month_present else None
    budget = float(tenants["budget_usd"].fillna(0).sum())
    ok = float(lanes["ok"].sum()) if not lanes.empty else 0.0
    errors = float(lanes["errors"].sum()) if not lanes.empty else 0.0
    verdicts = loadtests["verdict"].value_counts() if not loadtests.empty else pd.Series(dtype=int)
    return Headline(
        month=month,
        spend_usd=spend,
        prev_spend_usd=prev,
        change_pct=None if prev is None else _ratio(spend - prev, prev),
        budget_usd=budget,
        budget_used=_ratio(spend, budget),
        tenants_over_budget=int((tenants["budget_used"].fillna(0) > 1).sum()),
        lanes_meeting_slo=int(lanes["slo_met"].sum()) if not lanes.empty else 0,
        lanes_total=len(lanes),
        availability=_ratio(ok, ok + errors),
        drift_findings=len(drift),
        drift_high=int((drift["severity"] == "high").sum()) if not drift.empty else 0,
        loadtests_passed=int(verdicts.get("pass", 0)),
        loadtests_failed=int(verdicts.get("fail", 0)),
    )


def criteria(details: list[dict[str, object]]) -> pd.DataFrame:
    """A run's criteria as shown: the measured value with its unit (shares as percentages, as the
    thresholds are), whether it passed and where it was measured."""
    rows = []
    for item in details:
        value, unit = item.get("measured"), str(item.get("unit") or "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = f"{value * 100:.4g} %" if unit == "ratio" else f"{value:,.4g} {unit}".rstrip()
        else:
            shown = "—" if value is None else str(value)
        rows.append({"name": item.get("name"), "threshold": item.get("threshold"), "measured": shown,
                     "passed": bool(item.get("passed")), "source": item.get("source")})
    return pd.DataFrame(rows, columns=["name", "threshold", "measured", "passed", "source"])
