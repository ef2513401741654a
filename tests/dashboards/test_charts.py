from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import charts


def test_each_tenant_keeps_its_colour_whatever_the_page_shows() -> None:
    everyone = charts.tenant_colors(["initech", "acme", "globex"])
    assert everyone == charts.tenant_colors(["globex", "initech", "acme"])
    assert len(set(everyone.values())) == 3
    cost = pd.DataFrame({"day": [date(2026, 10, 1)], "tenant_id": ["globex"], "cost_usd": [5.0]})
    figure = charts.daily_spend(cost, "tenant_id", everyone)
    assert figure.data[0].line.color == everyone["globex"]


def test_lanes_have_fixed_colours_and_axes_carry_units() -> None:
    colors = charts.lane_colors(["batch", "interactive", "shadow"])
    assert colors["interactive"] == charts.LANE_COLORS["interactive"]
    assert colors["shadow"] not in charts.LANE_COLORS.values()
    assert charts.money_axis([3.5, 12.0]) == "$,.2f"
    assert charts.money_axis([-1500.0], signed=True) == "+$,.0f"
    trend = pd.DataFrame(
        {"month": ["2026-09", "2026-10"], "tenant_id": ["acme", "acme"], "cost_usd": [900.0, 1400.0]}
    )
    figure = charts.monthly_spend(trend, {"acme": "#4C78A8"})
    assert figure.layout.yaxis.title.text == "Spend (USD)"
    assert figure.layout.yaxis.tickformat == "$,.0f"


def test_load_test_panels_plot_unexpected_errors_not_the_sheds_by_design() -> None:
    runs = pd.DataFrame({
        "run_id": ["lt-saturation-1", "lt-steady-1"], "scenario": ["saturation", "steady"],
        "verdict": ["pass", "fail"], "started_at": pd.to_datetime(["2026-12-07 12:15", "2026-12-07 12:16"]),
        "rps": [22.8, 8.6], "p95_ms": [1870.0, 2421.0], "error_rate": [0.53, 0.02],
        "fallback_rate": [0.0, 0.0], "requests": [483, 100], "unexpected_errors": [0, 2],
    })  # fmt: skip
    fig = charts.loadtest_panels(runs)
    errors = [trace for trace in fig.data if trace.xaxis == "x3"]  # the third panel
    assert fig.layout.annotations[2].text == "Unexpected errors"
    assert sorted(float(y) for trace in errors for y in trace.y) == [0.0, 0.02]
    assert [trace.marker.symbol for trace in errors if trace.name == "steady (fail)"] == ["x"]


def test_policy_timeline_is_one_short_row_with_alternating_labels() -> None:
    changes = pd.DataFrame({
        "day": [date(2026, 11, 10), date(2026, 11, 12)], "policy_version": ["v1", "v2"],
        "keys_changed": [2, 1], "detail": ["a", "b"],
    })  # fmt: skip
    fig = charts.policy_timeline(changes, date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 1))
    assert fig.layout.height == charts.TIMELINE_HEIGHT <= 130
    assert list(fig.data[0].textposition) == ["top center", "bottom center"]
