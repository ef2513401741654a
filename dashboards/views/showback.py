"""Showback: who spent what, on which model and lane, against which budget, and at what unit cost."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, data, tables, widgets
from dashboards import formatting as fmt

HIERARCHY = {
    "tenant_id": "Tenant",
    "team": "Team",
    "app_id": "App",
    "workflow": "Workflow",
    "model_name": "Model",
    "latency_class": "Lane",
}

snap = widgets.current_snapshot()
month = widgets.selected_month()
cost = data.cost_daily(snap, month)
every_tenant = data.tenants(snap)
colors = charts.tenant_colors(every_tenant)
lane_palette = charts.lane_colors(list(cost["latency_class"].unique()))

st.title(f"Showback · {fmt.month_label(month)}")
widgets.coverage_caption(widgets.coverage(snap, month))
chosen = st.multiselect("Tenants", sorted(cost["tenant_id"].dropna().unique()), placeholder="All tenants")
if chosen:
    cost = cost[cost["tenant_id"].isin(chosen)]

budgets = tables.budgets(data.budget_status(snap, month))
if chosen:
    budgets = budgets[budgets["tenant_id"].isin(chosen)]
total = tables.unit_costs(cost.assign(scope="all"), ["scope"])

cols = [*st.columns(3), *st.columns(3)]  # two rows: labels and values stay whole at 1280 px
cols[0].metric("Spend", fmt.money(float(cost["cost_usd"].sum())), border=True)
cols[1].metric("Forecast to month end", fmt.money(float(budgets["forecast_usd"].sum())), border=True)
cols[2].metric("Budget", fmt.money(float(budgets["budget_usd"].sum())), border=True)
cols[3].metric(
    "Cost per request",
    fmt.unit_money(float(total["cost_per_request_usd"].iloc[0])) if not total.empty else "—",
    border=True,
)
cols[4].metric(
    "Cost per 1k tokens",
    fmt.unit_money(float(total["cost_per_1k_tokens_usd"].iloc[0])) if not total.empty else "—",
    border=True,
)

left, right = st.columns(2)
with left:
    st.subheader("Budget vs actual, with forecast to month end")
    st.plotly_chart(charts.budget_vs_actual(budgets, colors), width="stretch")
    st.dataframe(
        budgets,
        hide_index=True,
        width="stretch",
        column_config={  # the widths fit half of the page at 1280 px; the CSV has every column
            "tenant_id": st.column_config.Column("Tenant", width=70),
            "cost_usd": st.column_config.NumberColumn("Actual", format="dollar", width=80),
            "forecast_usd": st.column_config.NumberColumn("Forecast", format="dollar", width=80),
            "budget_usd": st.column_config.NumberColumn("Budget", format="dollar", width=75),
            "budget_used": st.column_config.ProgressColumn(
                "Used", format="percent", min_value=0, max_value=1, width=80
            ),
            "status": st.column_config.Column("Status", width=60),
        },
        column_order=["tenant_id", "cost_usd", "forecast_usd", "budget_used", "budget_usd", "status"],
    )
    widgets.csv_download(budgets, f"aigw-budgets-{month}.csv", "budgets_csv")
with right:
    st.subheader("Spend per day")
    color_by = (
        st.segmented_control(
            "Colour by",
            ["tenant_id", "latency_class"],
            default="tenant_id",
            format_func=HIERARCHY.__getitem__,
            key="daily_color",
        )
        or "tenant_id"
    )
    palette = colors if color_by == "tenant_id" else lane_palette
    st.plotly_chart(charts.daily_spend(cost, color_by, palette), width="stretch")

st.subheader("Where the money goes")
levels = st.multiselect(
    "Break down by (in order)",
    list(HIERARCHY),
    default=["tenant_id", "team", "app_id"],
    format_func=HIERARCHY.__getitem__,
    key="levels",
) or ["tenant_id"]
left, right = st.columns(2)
with left:
    st.plotly_chart(
        charts.hierarchy(cost, levels, lane_palette if levels[0] == "latency_class" else colors),
        width="stretch",
    )
with right:
    breakdown = tables.unit_costs(cost, levels)
    breakdown["share"] = breakdown["cost_usd"] / breakdown["cost_usd"].sum()
    st.dataframe(
        breakdown[
            [*levels, "requests", "cost_usd", "share", "cost_per_request_usd", "cost_per_1k_tokens_usd"]
        ],
        hide_index=True,
        width="stretch",
        height=400,
        column_config={  # levels share what the numbers leave of half the page at 1280 px
            **{level: st.column_config.Column(HIERARCHY[level], width=max(40, 200 // len(levels)))
               for level in levels},
            "requests": st.column_config.NumberColumn("Requests", format="localized", width=75),
            "cost_usd": st.column_config.NumberColumn("Spend", format="dollar", width=75),
            "share": st.column_config.ProgressColumn(
                "Share", format="percent", min_value=0, max_value=1, width=75
            ),
        },
        column_order=[*levels, "requests", "cost_usd", "share"],
    )
    widgets.csv_download(breakdown, f"aigw-showback-{month}.csv", "breakdown_csv")

st.subheader("Unit costs by model")
by_model = tables.unit_costs(cost, ["model_provider", "model_name"])
refused = (by_model["model_provider"] == data.UNTAGGED) & (by_model["model_name"] == data.UNTAGGED)
by_model.loc[refused, ["model_provider", "model_name"]] = ["refused", "no model called (policy or limits)"]
st.dataframe(
    by_model,
    hide_index=True,
    width="stretch",
    column_config={
        "model_provider": st.column_config.Column("Provider", width=100),
        "model_name": st.column_config.Column("Model", width=230),
        "requests": st.column_config.NumberColumn("Requests", format="localized", width=90),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized", width=110),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized", width=110),
        "cost_usd": st.column_config.NumberColumn("Spend", format="dollar", width=85),
        "cost_per_request_usd": st.column_config.NumberColumn("$/request", format="$%.5f", width=85),
        "cost_per_1k_tokens_usd": st.column_config.NumberColumn("$/1k tokens", format="$%.5f", width=95),
    },
)
widgets.csv_download(by_model, f"aigw-unit-costs-{month}.csv", "models_csv")

st.caption(
    f"Every row behind this page: {len(cost):,} rows of marts.cost_daily for {fmt.month_label(month)}."
)
widgets.csv_download(cost, f"aigw-cost-daily-{month}.csv", "cost_daily_csv")
