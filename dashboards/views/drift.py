"""Policy drift: departures from policy this month, how the policy changed, and allowlist breaches."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, data, months, tables, widgets
from dashboards import formatting as fmt

# What fits the page at 1280 px (observed and expected are in the detail and in the CSV).
ORDER = ["day", "severity", "kind", "tenant_id", "subject", "detail"]
COLUMNS = {
    "day": st.column_config.DateColumn("Day", format="D MMM YYYY", width=95),
    "severity": st.column_config.Column("Severity", width=75),
    "kind": st.column_config.Column("Kind", width=150),
    "tenant_id": st.column_config.Column("Tenant", width=75),
    "subject": st.column_config.Column("Subject", width=190),
    "detail": st.column_config.Column("Detail", width=320),
}

snap = widgets.current_snapshot()
month = widgets.selected_month()
drift = data.policy_drift(snap, month)
changes = data.policy_changes(snap, month)

st.title(f"Policy drift · {fmt.month_label(month)}")
widgets.coverage_caption(widgets.coverage(snap, month))
counts = tables.severity_counts(drift)
cols = st.columns(1 + len(counts))
cols[0].metric("Findings", len(drift), border=True)
for col, (severity, count) in zip(cols[1:], counts.items(), strict=True):
    col.metric(severity.capitalize(), count, border=True)

if drift.empty:
    st.success("No drift findings this month.")
else:
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Findings by kind and severity")
        st.plotly_chart(charts.drift_by_kind(drift), width="stretch")
    with right:
        st.subheader("Details")
        kinds = st.multiselect("Kind", sorted(drift["kind"].unique()), placeholder="All kinds")
        severities = st.multiselect("Severity", list(counts), placeholder="All severities")
    shown = drift
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if severities:
        shown = shown[shown["severity"].isin(severities)]
    # the whole width: a finding's subject and detail need it (half the page would scroll at 1280 px)
    st.dataframe(shown[ORDER], hide_index=True, width="stretch", column_config=COLUMNS, height=360)
    widgets.csv_download(shown, f"aigw-drift-{month}.csv", "drift_csv")

st.subheader("Allowlist violations")
violations = drift[drift["kind"] == "allowlist_violation"]
if violations.empty:
    st.success("No request reached a model outside its tenant's or data class's allowlist.")
else:
    st.dataframe(violations[ORDER], hide_index=True, width="stretch", column_config=COLUMNS)
    widgets.csv_download(violations, f"aigw-allowlist-{month}.csv", "allowlist_csv")

st.subheader("Policy versions")
if changes.empty:
    st.info("No policy change recorded up to the end of this month.")
else:
    first_day = min(changes["day"].min(), months.first_day(month))
    fig = charts.policy_timeline(changes, first_day, months.last_day(month), months.first_day(month))
    st.plotly_chart(fig, width="stretch")
    st.dataframe(
        changes.sort_values("day", ascending=False),
        hide_index=True,
        width="stretch",
        column_config={
            "day": st.column_config.DateColumn("First seen", format="D MMM YYYY", width=95),
            "policy_version": st.column_config.Column("Version", width=120),
            "keys_changed": st.column_config.NumberColumn("Keys changed", format="%d", width=105),
            "detail": st.column_config.Column("What changed", width=560),
        },
    )
