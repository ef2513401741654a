"""Everything the monthly review shows, gathered once per month from the marts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboards import data, months, reconciliation, review_pack, tables
from dashboards import formatting as fmt


@dataclass(frozen=True)
class Review:
    month: str
    headline: tables.Headline
    tenants: pd.DataFrame
    budgets: pd.DataFrame
    lanes: pd.DataFrame
    routes: pd.DataFrame
    burned: pd.DataFrame
    movers: pd.DataFrame
    drift: pd.DataFrame
    loadtests: pd.DataFrame
    trend: pd.DataFrame
    compared_with: str  # "October 2026", or "1–6 Nov 2026" when the month is in progress
    in_progress: bool  # compared with the same days of the month before
    loadtests_since: bool  # the loadtests include runs after the month's end (see runs_for_review)
    reconciliation: reconciliation.ReconciliationReview | None = None

    def pack(self, coverage: str | None = None, previous_coverage: str | None = None) -> str:
        """The review as Markdown (``coverage``: the days covered, if only part of the month; the same
        for the previous month)."""
        return review_pack.build(
            self.headline,
            self.tenants,
            self.lanes,
            self.burned,
            self.movers,
            self.drift,
            self.loadtests,
            coverage,
            previous_coverage,
            self.compared_with if self.in_progress else None,
            self.loadtests_since,
        ) + reconciliation.markdown(self.reconciliation)


def runs_in(runs: pd.DataFrame, month: str) -> pd.DataFrame:
    """Load-test runs that started in ``month``."""
    if runs.empty:
        return runs
    started = pd.to_datetime(runs["started_at"], utc=True)
    start = pd.Timestamp(months.first_day(month), tz="UTC")
    end = pd.Timestamp(months.next_month_start(month), tz="UTC")
    return runs[(started >= start) & (started < end)].reset_index(drop=True)


def runs_for_review(runs: pd.DataFrame, month: str, review_month: str | None) -> pd.DataFrame:
    """Load-test runs the review of ``month`` counts: those that started in it, and for the month under
    review now (``review_month``, the last complete month the dashboard opens on) also those run since
    it ended, the evidence brought to the review meeting. Other months count their own runs only."""
    if month != review_month or runs.empty:
        return runs_in(runs, month)
    started = pd.to_datetime(runs["started_at"], utc=True)
    return runs[started >= pd.Timestamp(months.first_day(month), tz="UTC")].reset_index(drop=True)


def gather(snap: data.Snapshot, month: str) -> Review:
    """Query the month and its predecessor and fold them into the review's tables and headline."""
    previous_month = months.previous(month)
    current_showback = data.showback(snap, month)
    previous_showback = data.showback(snap, previous_month)
    current_cost, previous_cost = data.cost_daily(snap, month), data.cost_daily(snap, previous_month)
    compared_with = fmt.month_label(previous_month)
    through = current_cost["day"].max() if not current_cost.empty else None
    same_days = months.same_days_before(month, through) if through is not None else None
    if same_days is not None:  # a month in progress: against the same days of the month before
        previous_cost = previous_cost[previous_cost["day"] <= same_days[1]]
        previous_showback = previous_cost if not previous_cost.empty else previous_showback.iloc[0:0]
        compared_with = months.span_label(*same_days)
    tenants = tables.tenant_spend(current_showback, previous_showback)
    slo = data.slo_daily(snap, month)
    lanes = tables.lane_slo(slo)
    routes = tables.route_slo(slo)
    burned = tables.burned_error_budget(routes, data.slo_alerts(snap, month))
    movers = tables.cost_movers(current_cost, previous_cost, ["tenant_id", "app_id"])
    drift = data.policy_drift(snap, month)
    review_month = data.default_month(snap)
    loadtests = runs_for_review(data.loadtest_runs(snap), month, review_month)
    head = tables.headline(month, tenants, not previous_showback.empty, lanes, drift, loadtests)
    return Review(
        month=month,
        headline=head,
        tenants=tenants,
        budgets=tables.budgets(data.budget_status(snap, month)),
        lanes=lanes,
        routes=routes,
        burned=burned,
        movers=movers,
        drift=drift,
        loadtests=loadtests,
        trend=data.showback_trend(snap, month),
        compared_with=compared_with,
        in_progress=same_days is not None,
        loadtests_since=len(loadtests) > len(runs_in(loadtests, month)),
        reconciliation=reconciliation.gather(snap, month),
    )
