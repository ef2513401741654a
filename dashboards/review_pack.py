"""The monthly review as Markdown a lead can paste into the meeting notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from dashboards import formatting as fmt
from dashboards.tables import Headline, drift_summary, severity_counts


def _table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Callable[[Any], str]]]) -> str:
    """A Markdown table of ``frame`` with (column, header, formatter) per column."""
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    rows = [
        "| " + " | ".join(render(row[name]) for name, _, render in columns) + " |"
        for _, row in frame.iterrows()
    ]
    return "\n".join([header, rule, *rows])


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value: Any) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and pd.isna(value))
        else str(value).replace("|", "/")
    )


def _money(value: Any) -> str:
    return fmt.money(_num(value))


def _money_delta(value: Any) -> str:
    return fmt.money_delta(_num(value))


def _count(value: Any) -> str:
    number = _num(value)
    return "—" if number is None or pd.isna(number) else f"{int(number):,}"


def _pct(value: Any) -> str:
    return fmt.percent(_num(value))


def _pct_delta(value: Any) -> str:
    return fmt.percent_delta(_num(value))


def _availability(value: Any) -> str:
    return fmt.availability(_num(value))


def _yes_no(value: Any) -> str:
    return "✅ met" if bool(value) else "❌ missed"


def _high_severity(drift: pd.DataFrame, limit: int = 10) -> list[str]:
    """The high-severity findings one by one (they are what the meeting should discuss)."""
    high = drift[drift["severity"] == "high"].sort_values("day") if not drift.empty else drift
    if high.empty:
        return []
    lines = [
        f"- {row.day} · {row.kind} · {_text(row.tenant_id)}: {_text(row.detail)}"
        for row in high.head(limit).itertuples()
    ]
    more = [f"- … and {len(high) - limit} more (Policy drift page)"] if len(high) > limit else []
    return ["High severity:", "", *lines, *more, ""]


def headline_lines(
    head: Headline, previous_coverage: str | None = None, same_days: str | None = None
) -> list[str]:
    """The headline as bullet points (also used for the page's summary sentence). ``same_days``: the
    days of the previous month a month in progress is compared with."""
    partly = f", which the warehouse covers {previous_coverage} only" if previous_coverage else ""
    against = f"the same days of the previous month, {same_days}" if same_days else "previous month"
    change = (
        f"{fmt.percent_delta(head.change_pct)} vs {against} ({fmt.money(head.prev_spend_usd)}{partly})"
        if head.prev_spend_usd is not None
        else "no previous month in the warehouse"
    )
    over = f", {head.tenants_over_budget} tenant(s) over budget" if head.tenants_over_budget else ""
    return [
        f"- **Spend:** {fmt.money(head.spend_usd)} — {change}",
        f"- **Budget use:** {fmt.percent(head.budget_used)} of {fmt.money(head.budget_usd)}{over}",
        f"- **SLO attainment:** {head.lanes_meeting_slo} of {head.lanes_total} lanes met their SLO; "
        f"overall availability {fmt.availability(head.availability)}",
        f"- **Policy drift:** {head.drift_findings} finding(s), {head.drift_high} high severity",
        f"- **Load tests:** {head.loadtests_passed} passed, {head.loadtests_failed} failed",
    ]


LOADTESTS_SINCE = ("Runs from the start of {month} up to the review: the load tests run since the month "
                   "ended count too.")
"""Said when the review of the last complete month counts runs after its end (``runs_for_review``)."""


def build(
    head: Headline,
    tenants: pd.DataFrame,
    lanes: pd.DataFrame,
    burned: pd.DataFrame,
    movers: pd.DataFrame,
    drift: pd.DataFrame,
    loadtests: pd.DataFrame,
    coverage: str | None = None,
    previous_coverage: str | None = None,
    same_days: str | None = None,
    loadtests_since: bool = False,
) -> str:
    """The whole review pack for ``head.month`` (``coverage``: the days covered, if only part of it)."""
    severities = ", ".join(f"{count} {name}" for name, count in severity_counts(drift).items() if count)
    parts = [
        f"# AI gateway monthly review — {fmt.month_label(head.month)}",
        "",
        *(
            [f"> The warehouse covers {coverage} of this month; figures are for those days only.", ""]
            if coverage
            else []
        ),
        *headline_lines(head, previous_coverage, same_days),
        "",
        "## Spend and budgets by tenant",
        _table(
            tenants,
            [
                ("tenant_id", "Tenant", _text),
                ("team", "Team", _text),
                ("cost_usd", "Spend", _money),
                ("budget_usd", "Budget", _money),
                ("budget_used", "Budget use", _pct),
                ("change_usd", "Change", _money_delta),
                ("change_pct", "Change %", _pct_delta),
            ],
        ),
        "",
        "## Top cost movers",
        _table(
            movers,
            [
                ("tenant_id", "Tenant", _text),
                ("app_id", "App", _text),
                ("prev_cost_usd", "Previous", _money),
                ("cost_usd", "This month", _money),
                ("change_usd", "Change", _money_delta),
            ],
        )
        if not movers.empty
        else "No spend moved.",
        "",
        "## SLO attainment by lane",
        _table(
            lanes,
            [
                ("latency_class", "Lane", _text),
                ("availability", "Availability", _availability),
                ("availability_target", "Target", _availability),
                ("within_latency_pct", "% within latency target", lambda v: f"{float(v):.1f}%"),
                ("slo_met", "SLO", _yes_no),
            ],
        )
        if not lanes.empty
        else "No SLO data this month.",
        "",
        "## Lanes that burned error budget",
        _table(
            burned,
            [
                ("latency_class", "Lane", _text),
                ("model_route", "Route", _text),
                ("error_budget_used", "Budget used", _pct),
                ("error_budget_remaining", "Remaining", _pct),
                ("alerts", "Burn-rate alerts", _text),
            ],
        )
        if not burned.empty
        else "No lane burned a notable share of its error budget.",
        "",
        "## Policy drift",
        f"{len(drift)} finding(s){': ' + severities if severities else ''}.",
        "",
        _table(
            drift_summary(drift),
            [
                ("kind", "Kind", _text),
                ("severity", "Severity", _text),
                ("findings", "Findings", _text),
                ("tenants", "Tenants", _text),
                ("last_day", "Last seen", _text),
            ],
        )
        if not drift.empty
        else "",
        "",
        *_high_severity(drift),
        "## Load tests",
        *([LOADTESTS_SINCE.format(month=fmt.month_label(head.month)), ""] if loadtests_since else []),
        _table(
            loadtests,
            [
                ("run_id", "Run", _text),
                ("scenario", "Scenario", _text),
                ("verdict", "Verdict", _text),
                ("rps", "req/s", lambda v: f"{float(v):,.1f}"),
                ("p95_ms", "p95 (ms)", lambda v: f"{float(v):,.0f}"),
                ("refused_as_designed_rate", "Refused by design", _pct),
                ("unexpected_errors", "Unexpected errors", _count),
                ("fallback_rate", "Fallbacks", _pct),
            ],
        )
        if not loadtests.empty
        else "No load tests ran this month.",
        "",
    ]
    return "\n".join(parts)
