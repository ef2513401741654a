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
