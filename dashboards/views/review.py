"""Monthly review: last month at a glance for the platform lead, with the review pack to take away."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, months, reconciliation_section, review_data, review_pack, tables, widgets
from dashboards import formatting as fmt

snap = widgets.current_snapshot()
month = widgets.selected_month()
review = review_data.gather(snap, month)
head = review.headline
partial = widgets.coverage(snap, month)
previous_partial = widgets.coverage(snap, months.previous(month))
pack = review.pack(partial, previous_partial)
tenant_colors = charts.tenant_colors(data.tenants(snap))

title, download = st.columns([4, 1], vertical_alignment="bottom")
title.title(f"Monthly review · {fmt.month_label(month)}")
download.download_button(
    "Review pack",
    pack.encode(),
    file_name=f"aigw-review-{month}.md",
    mime="text/markdown",
    icon=":material/description:",
    type="primary",
    width="stretch",
    help="The review as Markdown, to paste into the meeting notes.",
)
widgets.coverage_caption(partial)

missed = [str(lane) for lane in review.lanes.loc[~review.lanes["slo_met"].astype(bool), "latency_class"]]
cols = [*st.columns(3), *st.columns(3)]  # two rows of three: values and deltas stay whole at 1280 px
cols[0].metric(
    "Spend",
    fmt.money(head.spend_usd),
    border=True,
    delta=f"{int(review.tenants['requests'].sum()):,} requests",
    delta_color="off",
    delta_arrow="off",
    help="Sum of cost_usd in marts.showback_monthly: every request priced at its day's rate.",
)
in_progress = review.in_progress
cols[1].metric(
    "vs same days last month" if in_progress else "vs last month",
    fmt.percent_delta(head.change_pct, digits=0 if abs(head.change_pct or 0) >= 1 else 1),
    border=True,
    delta="no earlier data"
    if head.prev_spend_usd is None
    else fmt.money_delta(head.spend_usd - head.prev_spend_usd),
    delta_color="off" if head.prev_spend_usd is None else "inverse",
    delta_arrow="off" if head.prev_spend_usd is None else "auto",
    help=(
        f"{partial} compared with {review.compared_with}: the same days of the month before."
        if in_progress
        else f"The previous month is covered {previous_partial} only: the change overstates growth."
        if previous_partial
        else f"Compared with {review.compared_with}."
    ),
)
cols[2].metric(
    "Budget use",
    fmt.percent(head.budget_used),
    border=True,
    delta=(
        f"{head.tenants_over_budget} over budget"
        if head.tenants_over_budget
        else f"of {fmt.money(head.budget_usd)}"
    ),
    delta_color="inverse" if head.tenants_over_budget else "off",
    delta_arrow="off",
)
cols[3].metric(
    "SLO met (lanes)",
    f"{head.lanes_meeting_slo} of {head.lanes_total}",
    border=True,
    delta="all met" if not missed else "missed: " + ", ".join(missed),
    delta_color="normal" if not missed else "inverse",
    delta_arrow="off",
    help=f"Overall availability {fmt.availability(head.availability)}.",
)
cols[4].metric(
    "Drift findings",
    f"{head.drift_findings}",
    border=True,
    delta=f"{head.drift_high} high severity",
    delta_color="inverse" if head.drift_high else "off",
    delta_arrow="off",
)
runs = head.loadtests_passed + head.loadtests_failed
cols[5].metric(
    "Load tests passed",
    f"{head.loadtests_passed} of {runs}" if runs else "none",
    border=True,
    delta=("all passed" if head.loadtests_failed == 0 else f"{head.loadtests_failed} failed")
    if runs
    else "no runs",
    delta_color="off" if not runs else "normal" if head.loadtests_failed == 0 else "inverse",
    delta_arrow="off",
    help=review_pack.LOADTESTS_SINCE.format(month=fmt.month_label(month)) if review.loadtests_since else None,
)

left, right = st.columns(2)
with left:
    st.subheader("Spend against budget by tenant")
    st.plotly_chart(charts.budget_vs_actual(review.budgets, tenant_colors), width="stretch")
with right:
    st.subheader(f"Top cost movers vs {review.compared_with}")
    if head.prev_spend_usd is None:
        st.info("The warehouse has no earlier month to compare with.")
    elif review.movers.empty:
        st.info("No spend in this or the previous month.")
    else:
        st.plotly_chart(charts.movers(review.movers, ["tenant_id", "app_id"]), width="stretch")
        if previous_partial:
            st.caption(f"The previous month is covered {previous_partial} only: changes overstate growth.")

left, right = st.columns(2)
with left:
    st.subheader("Spend over twelve months")
    st.plotly_chart(charts.monthly_spend(review.trend, tenant_colors), width="stretch")
with right:
    st.subheader("SLO attainment by lane")
    st.dataframe(
        review.lanes[
            [
                "latency_class",
                "slo_met",
                "availability",
                "availability_target",
                "within_latency_pct",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={  # widths fit half of the page at 1280 px (a wider table would scroll)
            "latency_class": st.column_config.Column("Lane", width=90),
            "availability": st.column_config.NumberColumn("Availability", format="percent", width=95),
            "availability_target": st.column_config.NumberColumn("Target", format="percent", width=70),
            "within_latency_pct": st.column_config.ProgressColumn(
                "Within latency", format="%.1f%%", min_value=0, max_value=100, width=115,
                help="Requests answered within the lane's latency target (the SLO page lists the targets).",
            ),
            "slo_met": st.column_config.CheckboxColumn("SLO met", width=65),
        },
    )
    st.subheader("Lanes that burned error budget")
    if review.burned.empty:
        st.success("No lane or route used more than 10% of its error budget, and no burn-rate alert fired.")
    else:
        st.dataframe(
            review.burned[
                [
                    "latency_class",
                    "model_route",
                    "error_budget_used",
                    "error_budget_remaining",
                    "alerts",
                ]
            ],
            hide_index=True,
            width="stretch",
            column_config={
                "latency_class": st.column_config.Column("Lane", width=85),
                "model_route": st.column_config.Column("Route", width=125),
                "error_budget_used": st.column_config.NumberColumn("Budget used", format="percent", width=95),
                "error_budget_remaining": st.column_config.NumberColumn(
                    "Remaining", format="percent", width=85
                ),
                "alerts": st.column_config.NumberColumn("Alerts", width=55),
            },
        )

left, right = st.columns(2)
with left:
    st.subheader("Policy drift")
    if review.drift.empty:
        st.success("No drift findings this month.")
    else:
        st.dataframe(
            tables.drift_summary(review.drift),
            hide_index=True,
            width="stretch",
            column_order=["kind", "severity", "findings", "last_day"],  # tenants: on the drift page
            column_config={
                "kind": st.column_config.Column("Kind", width=185),
                "severity": st.column_config.Column("Severity", width=75),
                "findings": st.column_config.NumberColumn("Findings", width=75),
                "last_day": st.column_config.DateColumn("Last seen", format="D MMM", width=85),
            },
        )
        for finding in review.drift[review.drift["severity"] == "high"].head(3).itertuples():
            st.markdown(
                f":red-badge[high] {finding.day} · **{finding.kind}** · {finding.tenant_id}: {finding.detail}"
            )
        st.page_link("views/drift.py", label=f"All {len(review.drift)} findings", icon=":material/policy:")
with right:
    st.subheader("Load tests")
    if review.loadtests.empty:
        st.info("No load tests ran this month.")
    else:
        if review.loadtests_since:
            st.caption(review_pack.LOADTESTS_SINCE.format(month=fmt.month_label(month)))
        runs = review.loadtests.assign(started_at=pd.to_datetime(review.loadtests["started_at"]))
        st.dataframe(
            runs[["started_at", "scenario", "verdict", "refused_as_designed_rate", "unexpected_errors"]],
            hide_index=True,
            width="stretch",
            column_config=widgets.loadtest_columns(compact=True),
        )

reconciliation_section.render(review.reconciliation)

with st.expander("Review pack preview (Markdown)"):
    st.markdown(pack)
