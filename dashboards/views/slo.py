"""SLO: availability and latency per lane and route against target, error budgets, burn-rate alerts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards import charts, data, tables, widgets
from dashboards import formatting as fmt


def slo_verdict(lane: Any) -> str:
    """Which part of the lane's SLO held: both, or which one missed."""
    if lane.slo_met:
        return "met"
    if not lane.availability_met and not lane.latency_met:
        return "both missed"
    return "latency missed" if lane.availability_met else "availability missed"


snap = widgets.current_snapshot()
month = widgets.selected_month()
slo = data.slo_daily(snap, month)
alerts = data.slo_alerts(snap, month)
routes = tables.route_slo(slo)
lanes = tables.lane_slo(slo)
colors = charts.lane_colors(list(slo["latency_class"].unique()))

st.title(f"SLO · {fmt.month_label(month)}")
widgets.coverage_caption(widgets.coverage(snap, month))
if slo.empty:
    st.info("No SLO data for this month in `marts.slo_daily`.")
    st.stop()

cols = st.columns(len(lanes))
for col, lane in zip(cols, lanes.itertuples(), strict=True):
    col.metric(
        f"{lane.latency_class} availability",
        fmt.availability(lane.availability),
        border=True,
        delta=f"target {fmt.availability(lane.availability_target)} · {slo_verdict(lane)}",
        delta_color="normal" if lane.slo_met else "inverse",
        delta_arrow="off",
        help=f"{lane.within_latency_pct:.1f}% of requests within {lane.latency_target_ms:,.0f} ms",
    )

st.subheader("Availability per day against target")
st.plotly_chart(charts.availability_over_time(slo, colors), width="stretch")

left, right = st.columns([3, 2])
with left:
    st.subheader("Latency per day")
    pick_lane, pick_route = st.columns(2)
    lane_names = sorted(slo["latency_class"].unique(), key=lambda name: (name != "interactive", name))
    lane = pick_lane.selectbox("Lane", lane_names, key="slo_lane")
    in_lane = slo[slo["latency_class"] == lane]
    route = pick_route.selectbox("Route", sorted(in_lane["model_route"].unique()), key="slo_route")
    series = in_lane[in_lane["model_route"] == route].sort_values("day")
    target = float(series["latency_target_ms"].max()) if not series.empty else None
    st.plotly_chart(charts.latency_over_time(series, target), width="stretch")
with right:
    st.subheader("Error budget remaining")
    st.plotly_chart(charts.error_budget(routes, colors), width="stretch")

st.subheader("Burn-rate alerts")
if alerts.empty:
    st.success("No burn-rate alert fired this month.")
else:
    st.caption(
        "Multi-window burn-rate alerts (SRE Workbook): an alert fires when both the long and the short "
        "window burn faster than the threshold."
    )
    st.dataframe(
        alerts,
        hide_index=True,
        width="stretch",
        column_config={  # the widths fit the page at 1280 px; the CSV has every column
            "fired_at": st.column_config.DatetimeColumn("Fired (UTC)", format="D MMM HH:mm", width=100),
            "last_firing_at": st.column_config.DatetimeColumn("Last (UTC)", format="D MMM HH:mm", width=100),
            "latency_class": st.column_config.Column("Lane", width=85),
            "model_route": st.column_config.Column("Route", width=120),
            "severity": st.column_config.Column("Severity", width=70),
            "long_window": st.column_config.Column("Long", width=55, help="The long window."),
            "short_window": st.column_config.Column("Short", width=55, help="The short window."),
            "burn_rate_threshold": st.column_config.NumberColumn(
                "Threshold", format="%.1f×", width=80, help="The burn rate that fires the alert."),
            "peak_long_burn_rate": st.column_config.NumberColumn(
                "Peak (long)", format="%.1f×", width=90, help="The highest burn rate over the long window."),
            "peak_short_burn_rate": st.column_config.NumberColumn(
                "Peak (short)", format="%.1f×", width=95, help="The highest burn rate, short window."),
            "evaluations": st.column_config.NumberColumn("Checks", format="localized", width=65,
                                                         help="Evaluations that found it firing."),
        },
        column_order=["fired_at", "last_firing_at", "latency_class", "model_route", "severity", "long_window",
                      "short_window", "burn_rate_threshold", "peak_long_burn_rate", "peak_short_burn_rate",
                      "evaluations"],
    )
    widgets.csv_download(alerts, f"aigw-slo-alerts-{month}.csv", "alerts_csv")

st.subheader("Per lane and route this month")
st.dataframe(
    routes,
    hide_index=True,
    width="stretch",
    column_config={  # the widths fit the page at 1280 px; the CSV has every column
        "latency_class": st.column_config.Column("Lane", width=85),
        "model_route": st.column_config.Column("Route", width=125),
        "requests": st.column_config.NumberColumn("Requests", format="localized", width=85),
        "availability": st.column_config.NumberColumn("Availability", format="percent", width=90),
        "availability_target": st.column_config.NumberColumn("Target", format="percent", width=65,
                                                             help="The lane's availability target."),
        "within_latency_pct": st.column_config.NumberColumn(
            "Within latency", format="%.1f%%", width=105, help="Requests within the lane's latency target."),
        "latency_target_ms": st.column_config.NumberColumn("Latency target", format="%d ms", width=110),
        "p95_ms_worst": st.column_config.NumberColumn("Worst p95", format="%d ms", width=85,
                                                      help="The worst daily p95 of the month."),
        "slo_met": st.column_config.CheckboxColumn("SLO met", width=65),
        "error_budget_used": st.column_config.NumberColumn("Budget used", format="percent", width=95,
                                                           help="Error budget used."),
    },
    column_order=["latency_class", "model_route", "requests", "availability", "availability_target",
                  "within_latency_pct", "latency_target_ms", "p95_ms_worst", "slo_met", "error_budget_used"],
)
widgets.csv_download(routes, f"aigw-slo-{month}.csv", "routes_csv")
