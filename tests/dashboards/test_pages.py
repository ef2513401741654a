"""Every page through AppTest on a warehouse the real pipeline built in the test: no exception, and the
key figures equal what the marts say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import formatting as fmt
from dashboards import tables
from tests.dashboards.conftest import APP, PAGES

LAST_COMPLETE = "2026-10"  # the lake covers 20 Oct – 20 Nov 2026
CURRENT = "2026-11"


def _scalar(warehouse: Path, sql: str, *params: object) -> float:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(sql, list(params)).fetchone()
    assert row is not None and row[0] is not None
    return float(row[0])


def _metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _pick(at: AppTest, month: str) -> AppTest:
    return at.sidebar.selectbox[0].select(month).run()


def _month_spend(warehouse: Path, month: str) -> float:
    return _scalar(
        warehouse,
        "SELECT sum(cost_usd) FROM marts.showback_monthly WHERE strftime(month, '%Y-%m') = ?",
        month,
    )


def test_every_page_renders_without_exception(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = open_app(marts_warehouse)
    for month in (LAST_COMPLETE, CURRENT):
        for page in PAGES:
            at.switch_page(page).run()
            if page == PAGES[0]:
                _pick(at, month)
            assert not at.exception, f"{page} {month}: {[e.value for e in at.exception]}"
            assert at.title, f"{page} has no title"
            assert at.metric, f"{page} shows no figures"


def test_review_opens_on_the_last_complete_month(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = open_app(marts_warehouse)
    assert at.sidebar.selectbox[0].value == LAST_COMPLETE
    figures = _metrics(at)
    assert figures["Spend"] == fmt.money(_month_spend(marts_warehouse, LAST_COMPLETE))
    assert figures["vs last month"] == "—"  # nothing before 20 Oct
    assert next(m for m in at.metric if m.label == "vs last month").delta == "no earlier data"


def test_review_headline_equals_the_marts(open_app: Callable[[Path], AppTest], marts_warehouse: Path) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT)
    figures = _metrics(at)
    spend = _month_spend(marts_warehouse, CURRENT)
    # November is in progress (the lake ends on 20 Nov): it is compared with 1-20 Oct, not all October.
    previous = _scalar(
        marts_warehouse,
        "SELECT sum(cost_usd) FROM marts.cost_daily WHERE day BETWEEN '2026-10-01' AND '2026-10-20'",
    )
    budget = _scalar(
        marts_warehouse,
        "SELECT sum(budget_usd) FROM marts.budget_status WHERE strftime(month, '%Y-%m') = ?",
        CURRENT,
    )
    availability = _scalar(
        marts_warehouse,
        "SELECT sum(ok) / sum(ok + errors) FROM marts.slo_daily WHERE strftime(day, '%Y-%m') = ?",
        CURRENT,
    )
    findings = _scalar(
        marts_warehouse, "SELECT count(*) FROM marts.policy_drift WHERE strftime(day, '%Y-%m') = ?", CURRENT
    )
    high = _scalar(
        marts_warehouse,
        "SELECT count(*) FROM marts.policy_drift WHERE strftime(day, '%Y-%m') = ? AND severity = 'high'",
        CURRENT,
    )
    assert figures["Spend"] == fmt.money(spend)
    change = (spend - previous) / previous
    digits = 0 if abs(change) >= 1 else 1
    assert figures["vs same days last month"] == fmt.percent_delta(change, digits=digits)
    assert figures["Budget use"] == fmt.percent(spend / budget)
    assert figures["Drift findings"] == str(int(findings))
    assert figures["Load tests passed"] == "1 of 2"  # run-1 passed, run-2 failed
    by_label = {metric.label: metric for metric in at.metric}
    assert by_label["vs same days last month"].help.startswith("1–20 Nov 2026 compared with 1–20 Oct 2026")
    assert by_label["SLO met (lanes)"].help == f"Overall availability {fmt.availability(availability)}."
    assert by_label["Drift findings"].delta == f"{int(high)} high severity"
    pack = at.expander[0].markdown[0].value
    assert pack.startswith("# AI gateway monthly review — November 2026")
    assert "covers 1–20 Nov 2026 of this month" in pack  # the lake ends on 20 Nov
    assert "vs the same days of the previous month, 1–20 Oct 2026" in pack
    assert fmt.money(spend) in pack and "run-2" in pack


def test_burned_error_budget_lists_the_outage(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT)
    alerted = (
        duckdb.connect(str(marts_warehouse), read_only=True)
        .execute(
            "SELECT DISTINCT latency_class, model_route FROM marts.slo_alerts "
            "WHERE strftime(day, '%Y-%m') = ?",
            [CURRENT],
        )
        .fetchall()
    )
    assert alerted, "the test lake has an outage that must raise burn-rate alerts"
    burned = next(frame.value for frame in at.dataframe if "alerts" in frame.value.columns)
    listed = set(zip(burned["latency_class"], burned["model_route"], strict=True))
    assert set(alerted) <= listed


def test_a_link_can_name_the_month(monkeypatch: pytest.MonkeyPatch, marts_warehouse: Path) -> None:
    monkeypatch.setenv("AIGW_WAREHOUSE", str(marts_warehouse))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["month"] = CURRENT
    at.run()
    assert at.sidebar.selectbox[0].value == CURRENT
    assert at.title[0].value == "Monthly review · November 2026"


def test_month_choice_follows_across_pages(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT)
    at.switch_page("views/showback.py").run()
    assert at.session_state["review_month"] == CURRENT
    assert _metrics(at)["Spend"] == fmt.money(_month_spend(marts_warehouse, CURRENT))


def test_showback_figures_equal_the_marts(open_app: Callable[[Path], AppTest], marts_warehouse: Path) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT).switch_page("views/showback.py").run()
    where = "WHERE strftime(day, '%Y-%m') = ?"
    spend = _scalar(marts_warehouse, f"SELECT sum(cost_usd) FROM marts.cost_daily {where}", CURRENT)
    per_request = _scalar(
        marts_warehouse, f"SELECT sum(cost_usd) / sum(requests) FROM marts.cost_daily {where}", CURRENT
    )
    forecast = _scalar(
        marts_warehouse,
        "SELECT sum(forecast_month_end_usd) FROM marts.budget_status WHERE strftime(month, '%Y-%m') = ?",
        CURRENT,
    )
    figures = _metrics(at)
    assert figures["Spend"] == fmt.money(spend)
    assert figures["Forecast to month end"] == fmt.money(forecast)
    assert forecast > spend  # 20 of 30 days in: the forecast runs ahead of the spend so far
    assert figures["Cost per request"] == fmt.unit_money(per_request)
    assert len(at.get("download_button")) >= 4
    at.multiselect[0].select("initech").run()
    initech = _scalar(
        marts_warehouse,
        f"SELECT sum(cost_usd) FROM marts.cost_daily {where} AND tenant_id = 'initech'",
        CURRENT,
    )
    assert not at.exception
    assert _metrics(at)["Spend"] == fmt.money(initech)


def test_slo_page_shows_each_lane_availability(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT).switch_page("views/slo.py").run()
    figures = _metrics(at)
    lanes = (
        duckdb.connect(str(marts_warehouse), read_only=True)
        .execute(
            "SELECT latency_class, sum(ok) / sum(ok + errors) FROM marts.slo_daily "
            "WHERE strftime(day, '%Y-%m') = ? GROUP BY 1",
            [CURRENT],
        )
        .fetchall()
    )
    assert lanes
    for lane, availability in lanes:
        assert figures[f"{lane} availability"] == fmt.availability(availability)
    at.selectbox(key="slo_lane").select("batch").run()
    assert not at.exception
    batch_routes = (
        duckdb.connect(str(marts_warehouse), read_only=True)
        .execute(
            "SELECT DISTINCT model_route FROM marts.slo_daily "
            "WHERE strftime(day, '%Y-%m') = ? AND latency_class = 'batch' AND ok + errors > 0",
            [CURRENT],
        )
        .fetchall()
    )
    assert sorted(at.selectbox(key="slo_route").options) == sorted(route for (route,) in batch_routes)


def test_drift_and_loadtest_figures_equal_the_marts(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = _pick(open_app(marts_warehouse), CURRENT).switch_page("views/drift.py").run()
    warnings = _scalar(
        marts_warehouse,
        "SELECT count(*) FROM marts.policy_drift WHERE strftime(day, '%Y-%m') = ? AND severity = 'warning'",
        CURRENT,
    )
    assert _metrics(at)["Warning"] == str(int(warnings))
    versions = next(frame.value for frame in at.dataframe if "policy_version" in frame.value.columns)
    assert len(versions) == 1  # the test lake changes policy once, on 10 Nov
    at.switch_page("views/loadtests.py").run()
    runs = next(metric for metric in at.metric if metric.label == "Runs")
    assert (runs.value, runs.delta) == ("2", "November 2026")
    runs = next(frame.value for frame in at.dataframe if "unexpected_errors" in frame.value.columns)
    shown = {row.run_id: (row.refused_as_designed_rate, row.unexpected_errors) for row in runs.itertuples()}
    # run-2 (saturation) split its errors into refused by design and unexpected; run-1 predates the split
    assert shown["run-2"] == (0.5, 0) and pd.isna(shown["run-1"][0]) and pd.isna(shown["run-1"][1])
    assert any(c.value.startswith("Report in the lake: `") and c.value.endswith("/summary.json`")
               for c in at.caption)
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_alone_on_a_fresh_session(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path, page: str
) -> None:
    at = open_app(marts_warehouse).switch_page(page).run()
    assert not at.exception


def test_month_error_budget_equals_the_marts_month_to_date_figure(marts_warehouse: Path) -> None:
    with duckdb.connect(str(marts_warehouse), read_only=True) as con:
        slo = con.execute(
            "SELECT * FROM marts.slo_daily WHERE strftime(day, '%Y-%m') = ? AND ok + errors > 0", [CURRENT]
        ).df()
        last = con.execute(
            "SELECT latency_class, model_route, arg_max(error_budget_remaining_pct, day) "
            "FROM marts.slo_daily WHERE strftime(day, '%Y-%m') = ? AND ok + errors > 0 GROUP BY ALL",
            [CURRENT],
        ).fetchall()
    routes = tables.route_slo(slo).set_index(["latency_class", "model_route"])
    assert last
    for lane, route, remaining_pct in last:
        assert routes.loc[(lane, route), "error_budget_remaining"] * 100 == pytest.approx(remaining_pct)
