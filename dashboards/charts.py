"""Plotly figures with one look: a fixed colour per tenant and lane, units on every axis, money as $.

Pure functions from DataFrames to figures; the pages only place them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TENANT_PALETTE = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#B279A2",
    "#1B9E77",
    "#72B7B2",
    "#EECA3B",
    "#9D755D",
    "#A6761D",
    "#BAB0AC",
)
# No lane is red: red means "failing" or "over" everywhere (movers up, failed runs, high severity).
LANE_COLORS = {"interactive": "#B279A2", "standard": "#4C78A8", "batch": "#54A24B"}
OTHER_LANE_COLORS = ("#72B7B2", "#9D755D", "#EECA3B")
SEVERITY_COLORS = {"high": "#D62728", "warning": "#FF7F0E", "info": "#7F7F7F"}
TARGET_COLOR = "#444444"
MONEY_HOVER = "$,.2f"


def money_axis(values: Iterable[float], *, signed: bool = False) -> str:
    """d3 tick format for USD: cents when the axis stays under $20, whole dollars above."""
    largest = max((abs(float(v)) for v in values if pd.notna(v)), default=0.0)
    return ("+" if signed else "") + ("$,.2f" if largest < 20 else "$,.0f")


def tenant_colors(tenants: Sequence[str]) -> dict[str, str]:
    """One colour per tenant, assigned in sorted order of every tenant in the warehouse."""
    return {tenant: TENANT_PALETTE[i % len(TENANT_PALETTE)] for i, tenant in enumerate(sorted(tenants))}


def lane_colors(lanes: Sequence[str]) -> dict[str, str]:
    """The three standard lanes keep fixed colours; any other lane gets the next spare one."""
    spare = iter(OTHER_LANE_COLORS * (1 + len(lanes)))
    return {lane: LANE_COLORS.get(lane) or next(spare) for lane in sorted(set(lanes))}


def _style(fig: go.Figure, *, height: int = 320, legend_title: str | None = None) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": legend_title},
        hoverlabel={"namelength": -1},
        font={"size": 13},
    )
    return fig


def monthly_spend(trend: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Stacked monthly spend per tenant."""
    totals = trend.groupby("month")["cost_usd"].sum() if not trend.empty else pd.Series(dtype=float)
    fig = px.bar(
        trend,
        x="month",
        y="cost_usd",
        color="tenant_id",
        color_discrete_map=colors,
        labels={"month": "Month", "cost_usd": "Spend (USD)", "tenant_id": "Tenant"},
    )
    fig.update_yaxes(tickformat=money_axis(totals))
    fig.update_traces(hovertemplate="%{x}<br>%{y:" + MONEY_HOVER + "}")
    fig.update_xaxes(type="category")
    return _style(fig, legend_title="Tenant")


def daily_spend(cost_daily: pd.DataFrame, color_by: str, colors: dict[str, str]) -> go.Figure:
    """Spend per day stacked by ``color_by`` (tenant or lane)."""
    daily = cost_daily.groupby(["day", color_by], as_index=False)["cost_usd"].sum()
    label = {"tenant_id": "Tenant", "latency_class": "Lane"}.get(color_by, color_by)
    fig = px.area(
        daily,
        x="day",
        y="cost_usd",
        color=color_by,
        color_discrete_map=colors,
        labels={"day": "Day", "cost_usd": "Spend (USD/day)", color_by: label},
    )
    fig.update_yaxes(tickformat=money_axis(daily.groupby("day")["cost_usd"].sum()))
    fig.update_traces(hovertemplate="%{x|%d %b}<br>%{y:" + MONEY_HOVER + "}")
    return _style(fig, legend_title=label)


def _budget_label(used: float, forecast: float) -> str:
    if pd.isna(used):
        return "  no budget"
    if pd.notna(forecast) and forecast > used + 0.005:
        return f"  {used:.0%} used · {forecast:.0%} forecast"
    return f"  {used:.0%} used"


def budget_vs_actual(budgets: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Per tenant: actual spend (bar), forecast to month end (hatched bar) and budget (black tick)."""
    fig = go.Figure()
    fig.add_bar(
        y=budgets["tenant_id"],
        x=budgets["forecast_usd"],
        orientation="h",
        name="Forecast",
        marker={
            "color": "rgba(0,0,0,0)",
            "line": {"color": "#888", "width": 1},
            "pattern": {"shape": "/", "fgcolor": "#BBB"},
        },
        hovertemplate="%{y}: forecast %{x:" + MONEY_HOVER + "}<extra></extra>",
    )
    fig.add_bar(
        y=budgets["tenant_id"],
        x=budgets["cost_usd"],
        orientation="h",
        name="Actual",
        marker={"color": [colors.get(t, TENANT_PALETTE[0]) for t in budgets["tenant_id"]]},
        hovertemplate="%{y}: actual %{x:" + MONEY_HOVER + "}<extra></extra>",
    )
    fig.add_scatter(
        y=budgets["tenant_id"],
        x=budgets[["cost_usd", "forecast_usd"]].max(axis=1),
        mode="text",
        text=[_budget_label(row.budget_used, row.forecast_used) for row in budgets.itertuples()],
        textposition="middle right",
        showlegend=False,
        hoverinfo="skip",
        cliponaxis=False,
    )
    fig.add_scatter(
        y=budgets["tenant_id"],
        x=budgets["budget_usd"],
        mode="markers",
        name="Budget",
        marker={"symbol": "line-ns", "size": 28, "line": {"width": 3, "color": TARGET_COLOR}},
        hovertemplate="%{y}: budget %{x:" + MONEY_HOVER + "}<extra></extra>",
    )
    fig.update_layout(barmode="overlay", xaxis_title="USD this month", yaxis_title=None)
    fig.update_xaxes(tickformat=money_axis([*budgets["forecast_usd"], *budgets["budget_usd"]]))
    return _style(fig, height=80 + 48 * max(1, len(budgets)))


def movers(movers_frame: pd.DataFrame, label_columns: list[str]) -> go.Figure:
    """Change in spend vs the previous month: increases red, savings green."""
    labels = movers_frame[label_columns].astype(str).agg(" / ".join, axis=1)
    colors = ["#D62728" if change > 0 else "#2CA02C" for change in movers_frame["change_usd"]]
    fig = go.Figure(
        go.Bar(
            x=movers_frame["change_usd"],
            y=labels,
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:+$,.2f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="Change vs previous month (USD)", yaxis={"autorange": "reversed"})
    fig.update_xaxes(tickformat=money_axis(movers_frame["change_usd"], signed=True))
    return _style(fig, height=80 + 40 * max(1, len(movers_frame)))


def hierarchy(cost: pd.DataFrame, path: list[str], colors: dict[str, str]) -> go.Figure:
    """A treemap of spend down the ownership path (tenant → team → app → ...), each box in the colour of
    its top-level owner (``colors``: tenant or lane colours, whichever the path starts with)."""
    grouped = cost.groupby(path, as_index=False, dropna=False)["cost_usd"].sum()
    grouped[path] = grouped[path].fillna("(untagged)").astype(str)
    grouped = grouped[grouped["cost_usd"] > 0]
    fig = px.treemap(
        grouped,
        path=[px.Constant("all"), *path],
        values="cost_usd",
        color=path[0],
        color_discrete_map={"(?)": "#EEEEEE", **colors},
    )
    fig.update_traces(texttemplate="%{label}<br>%{value:$,.0f}", hovertemplate="%{id}<br>%{value:$,.2f}")
    return _style(fig, height=460)


TIMELINE_HEIGHT = 120
"""One row of dots with their labels and the date axis: no taller than that, however few versions."""


def policy_timeline(changes: pd.DataFrame, start: date, end: date, month_start: date) -> go.Figure:
    """Policy versions by the day first seen, between ``start`` and ``end``; this month's in red. Labels
    alternate above and below the dots, so versions a few days apart stay readable."""
    in_month = [day >= month_start for day in changes["day"]]
    fig = go.Figure(
        go.Scatter(
            x=changes["day"],
            y=[1] * len(changes),
            mode="markers+text",
            text=changes["policy_version"],
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(changes))],
            customdata=changes["detail"],
            hovertemplate="%{x|%d %b %Y}: %{text}<br>%{customdata}<extra></extra>",
            marker={"size": 14, "color": ["#D62728" if flag else "#4C78A8" for flag in in_month]},
            cliponaxis=False,
        )
    )
    fig.update_yaxes(visible=False, range=[0.5, 1.5], fixedrange=True)
    fig.update_xaxes(range=[start - timedelta(days=4), end + timedelta(days=4)], tickformat="%d %b %Y")
    _style(fig, height=TIMELINE_HEIGHT)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 4, "b": 4})
    return fig


def availability_over_time(slo: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Daily availability, one panel per lane (a line per route), each with its target dotted."""
    lanes = sorted(slo["latency_class"].unique())
    frame = slo.assign(series=slo["latency_class"] + " · " + slo["model_route"])
    fig = px.line(
        frame,
        x="day",
        y="availability",
        color="latency_class",
        line_group="series",
        facet_col="latency_class",
        category_orders={"latency_class": lanes},
        color_discrete_map=colors,
        hover_name="series",
        labels={"day": "Day", "availability": "Availability", "latency_class": "Lane"},
    )
    targets = frame.groupby("latency_class")["availability_target"].max()
    for column, lane in enumerate(lanes, start=1):
        target = float(targets[lane])
        fig.add_hline(
            y=target,
            line_dash="dot",
            line_color=TARGET_COLOR,
            row=1,
            col=column,
            annotation_text=f"target {target:.2%}",
            annotation_position="bottom right",
            annotation_font_size=11,
        )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]) if "=" in (a.text or "") else None)
    fig.update_yaxes(tickformat=".1%")
    fig.update_layout(showlegend=False)
    return _style(fig)


def latency_over_time(slo: pd.DataFrame, target_ms: float | None) -> go.Figure:
    """p50/p95/p99 (ms) for one lane and route against its latency target."""
    long = slo.melt(
        id_vars=["day"], value_vars=["p50_ms", "p95_ms", "p99_ms"], var_name="percentile", value_name="ms"
    )
    long["percentile"] = long["percentile"].str.removesuffix("_ms")
    fig = px.line(
        long,
        x="day",
        y="ms",
        color="percentile",
        markers=True,
        color_discrete_map={"p50": "#72B7B2", "p95": "#4C78A8", "p99": "#B279A2"},
        labels={"day": "Day", "ms": "Latency (ms)", "percentile": "Percentile"},
    )
    if target_ms is not None:
        fig.add_hline(
            y=target_ms,
            line_dash="dash",
            line_color="#D62728",
            annotation_text=f"target {target_ms:,.0f} ms",
            annotation_position="top left",
        )
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero")
    return _style(fig, legend_title="Percentile")


def error_budget(routes: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Error budget remaining per lane and route this month (negative = overspent)."""
    labels = routes["latency_class"] + " · " + routes["model_route"]
    fig = go.Figure(
        go.Bar(
            x=routes["error_budget_remaining"],
            y=labels,
            orientation="h",
            marker_color=[colors.get(lane, TARGET_COLOR) for lane in routes["latency_class"]],
            hovertemplate="%{y}: %{x:.1%} remaining<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color=TARGET_COLOR)
    fig.update_layout(xaxis_title="Error budget remaining this month")
    fig.update_xaxes(tickformat=".0%")
    return _style(fig, height=80 + 36 * max(1, len(routes)))


def drift_by_kind(drift: pd.DataFrame) -> go.Figure:
    """Findings per kind stacked by severity."""
    counts = drift.groupby(["kind", "severity"], as_index=False).size()
    fig = px.bar(
        counts,
        y="kind",
        x="size",
        color="severity",
        orientation="h",
        color_discrete_map=SEVERITY_COLORS,
        category_orders={"severity": list(SEVERITY_COLORS)},
        labels={"kind": "Kind", "size": "Findings", "severity": "Severity"},
    )
    fig.update_yaxes(categoryorder="total ascending")
    return _style(fig, height=80 + 34 * max(1, counts["kind"].nunique()), legend_title="Severity")


LOADTEST_PANELS = (
    ("rps", "Request rate (req/s)", ",.0f"),
    ("p95_ms", "p95 latency (ms)", ",.0f"),
    ("unexpected_rate", "Unexpected errors", ".1%"),
    ("fallback_rate", "Fallback rate", ".1%"),
)


def loadtest_panels(runs: pd.DataFrame) -> go.Figure:
    """Rate, p95, unexpected errors and fallback rate per run over time: colour per scenario, a cross if it
    failed. Errors are the unexpected ones only: a saturation run that sheds half its load by design is
    not a 50 % error rate (runs from before the split have no point there)."""
    answered = runs["requests"].where(runs["requests"] > 0)
    runs = runs.assign(unexpected_rate=runs["unexpected_errors"] / answered)
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[title for _, title, _ in LOADTEST_PANELS],
        vertical_spacing=0.16,
        horizontal_spacing=0.08,
    )
    scenarios = sorted(runs["scenario"].unique())
    palette = dict(zip(scenarios, px.colors.qualitative.Safe, strict=False))
    for number, (metric, title, tickformat) in enumerate(LOADTEST_PANELS):
        row, col = divmod(number, 2)
        for (scenario, verdict), group in runs.groupby(["scenario", "verdict"]):
            fig.add_scatter(
                x=group["started_at"],
                y=group[metric],
                mode="markers",
                row=row + 1,
                col=col + 1,
                name=f"{scenario} ({verdict})",
                legendgroup=f"{scenario}{verdict}",
                showlegend=number == 0,
                marker={
                    "size": 11,
                    "color": palette.get(str(scenario)),
                    "symbol": "x" if verdict == "fail" else "circle",
                    "line": {"width": 1, "color": "white"},
                },
                customdata=group["run_id"],
                hovertemplate="%{customdata}<br>%{x|%d %b %H:%M}<br>"
                + title
                + ": %{y:"
                + tickformat
                + "}"
                + "<extra></extra>",
            )
        fig.update_yaxes(tickformat=tickformat, rangemode="tozero", row=row + 1, col=col + 1)
    fig.update_xaxes(title_text="Started (UTC)", row=2)
    fig.update_xaxes(tickformat="%d %b\n%H:%M", hoverformat="%d %b %H:%M")  # not 04:27:21.9995
    return _style(fig, height=560, legend_title="Scenario (verdict)")
