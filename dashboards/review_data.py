"""Everything the monthly review shows, gathered once per month from the marts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboards import data, figures, months, reconciliation, review_pack


@dataclass(frozen=True)
class Review:
    month: str
    headline: figures.Headline
    tenants: pd.DataFrame
    budgets: pd.DataFrame
    lanes: pd.DataFrame
    routes: pd.DataFrame
    burned: pd.DataFrame
    movers: pd.DataFrame
    drift: pd.DataFrame
    loadtests: pd.DataFrame
    trend: pd.DataFrame
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
        ) + reconciliation.markdown(self.reconciliation)


def runs_in(runs: pd.DataFrame, month: str) -> pd.DataFrame:
    """Load-test runs that started in ``month``."""
    if runs.empty:
        return runs
    started = pd.to_datetime(runs["started_at"], utc=True)
    start = pd.Timestamp(months.first_day(month), tz="UTC")
    end = pd.Timestamp(months.next_month_start(month), tz="UTC")
    return runs[(started >= start) & (started < end)].reset_index(drop=True)


def gather(snap: data.Snapshot, month: str) -> Review:
    """Query the month and its predecessor and fold them into the review's tables and headline."""
    previous_month = months.previous(month)
    current_showback = data.showback(snap, month)
    previous_showback = data.showback(snap, previous_month)
    tenants = figures.tenant_spend(current_showback, previous_showback)
    slo = data.slo_daily(snap, month)
    lanes = figures.lane_slo(slo)
    routes = figures.route_slo(slo)
    burned = figures.burned_error_budget(routes, data.slo_alerts(snap, month))
    movers = figures.cost_movers(
        data.cost_daily(snap, month), data.cost_daily(snap, previous_month), ["tenant_id", "app_id"]
    )
    drift = data.policy_drift(snap, month)
    loadtests = runs_in(data.loadtest_runs(snap), month)
    head = figures.headline(month, tenants, not previous_showback.empty, lanes, drift, loadtests)
    return Review(
        month=month,
        headline=head,
        tenants=tenants,
        budgets=figures.budgets(data.budget_status(snap, month)),
        lanes=lanes,
        routes=routes,
        burned=burned,
        movers=movers,
        drift=drift,
        loadtests=loadtests,
        trend=data.showback_trend(snap, month),
        reconciliation=reconciliation.gather(snap, month),
    )
