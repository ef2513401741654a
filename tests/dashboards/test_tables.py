from __future__ import annotations

import pandas as pd
import pytest

from dashboards import tables


def _showback(rows: list[tuple[str, str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["tenant_id", "app_id", "requests", "cost_usd", "budget_usd"]).assign(
        team="t"
    )


def test_tenant_spend_counts_a_tenant_budget_once_and_compares_with_last_month() -> None:
    current = _showback([("acme", "a", 10, 300.0, 1000.0), ("acme", "b", 5, 200.0, 1000.0)])
    previous = _showback([("acme", "a", 8, 400.0, 1000.0)])
    row = tables.tenant_spend(current, previous).iloc[0]
    assert row["cost_usd"] == 500.0
    assert row["budget_usd"] == 1000.0
    assert row["budget_used"] == pytest.approx(0.5)
    assert row["change_usd"] == pytest.approx(100.0)
    assert row["change_pct"] == pytest.approx(0.25)


def _slo(rows: list[tuple[str, str, int, int, float]]) -> pd.DataFrame:
    """Days of (lane, route, ok, errors, within %), each with 10 policy outcomes (neither good nor bad)."""
    frame = pd.DataFrame(rows, columns=["latency_class", "model_route", "ok", "errors", "within_latency_pct"])
    return frame.assign(
        requests=frame["ok"] + frame["errors"] + 10,
        availability_target=0.99,
        latency_target_ms=3000.0,
        p95_ms=1000.0,
    )


def test_lane_slo_sums_days_like_the_mart() -> None:
    slo = _slo([("interactive", "r", 1000, 5, 99.0), ("interactive", "r", 9000, 45, 94.0)])
    lane = tables.lane_slo(slo).iloc[0]
    assert lane["availability"] == pytest.approx(10_000 / 10_050)
    assert lane["within_latency_pct"] == pytest.approx(94.5)
    assert bool(lane["availability_met"]) and not bool(lane["latency_met"]) and not bool(lane["slo_met"])
    assert lane["error_budget_used"] == pytest.approx((50 / 10_050) / 0.01)


def test_burned_error_budget_keeps_big_burners_and_alerted_routes() -> None:
    routes = tables.route_slo(
        _slo(
            [
                ("batch", "quiet", 1000, 0, 99.0),
                ("batch", "alerted", 1000, 0, 99.0),
                ("batch", "hot", 1000, 8, 99.0),
            ]
        )
    )
    alerts = pd.DataFrame({"latency_class": ["batch"], "model_route": ["alerted"]})
    burned = tables.burned_error_budget(routes, alerts)
    assert burned["model_route"].tolist() == ["hot", "alerted"]
    assert burned["alerts"].tolist() == [0, 1]


def test_cost_movers_rank_by_absolute_dollar_change() -> None:
    current = pd.DataFrame({"app_id": ["a", "b", "c"], "cost_usd": [100.0, 10.0, 50.0]})
    previous = pd.DataFrame({"app_id": ["a", "b", "d"], "cost_usd": [90.0, 60.0, 5.0]})
    movers = tables.cost_movers(current, previous, ["app_id"], top=3)
    assert movers["app_id"].tolist() == ["b", "c", "a"]
    assert movers["change_usd"].tolist() == [-50.0, 50.0, 10.0]
    assert pd.isna(movers.loc[1, "change_pct"])


def test_unit_costs_per_request_and_per_thousand_tokens() -> None:
    cost = pd.DataFrame(
        {
            "model_name": ["m", "m"],
            "requests": [10, 30],
            "input_tokens": [6000, 10000],
            "output_tokens": [2000, 2000],
            "cost_usd": [1.0, 1.0],
        }
    )
    row = tables.unit_costs(cost, ["model_name"]).iloc[0]
    assert row["cost_per_request_usd"] == pytest.approx(0.05)
    assert row["cost_per_1k_tokens_usd"] == pytest.approx(0.1)


def test_headline_folds_the_month() -> None:
    tenants = tables.tenant_spend(
        _showback([("acme", "a", 10, 1200.0, 1000.0), ("globex", "b", 10, 300.0, 1000.0)]),
        _showback([("acme", "a", 10, 1000.0, 1000.0), ("globex", "b", 10, 500.0, 1000.0)]),
    )
    lanes = tables.lane_slo(_slo([("batch", "r", 1000, 1, 99.0), ("interactive", "r", 1000, 50, 99.0)]))
    drift = pd.DataFrame({"severity": ["high", "warning", "high"]})
    runs = pd.DataFrame({"verdict": ["pass", "fail", "pass"]})
    head = tables.headline("2026-10", tenants, True, lanes, drift, runs)
    assert (head.spend_usd, head.prev_spend_usd, head.change_pct) == (1500.0, 1500.0, 0.0)
    assert head.budget_used == pytest.approx(0.75)
    assert head.tenants_over_budget == 1
    assert (head.lanes_meeting_slo, head.lanes_total) == (1, 2)
    assert head.availability == pytest.approx(2000 / 2051)
    assert (head.drift_findings, head.drift_high) == (3, 2)
    assert (head.loadtests_passed, head.loadtests_failed) == (2, 1)
    assert tables.severity_counts(drift) == {"high": 2, "warning": 1, "info": 0}


def test_drift_summary_puts_the_worst_kinds_first() -> None:
    drift = pd.DataFrame(
        {
            "day": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"],
            "tenant_id": ["initech", "acme", "initech", "(none)"],
            "kind": ["untagged_spend", "untagged_spend", "budget_overrun", "policy_change"],
            "severity": ["warning", "warning", "high", "info"],
        }
    )
    summary = tables.drift_summary(drift)
    assert summary["kind"].tolist() == ["budget_overrun", "untagged_spend", "policy_change"]
    assert summary.loc[1, "findings"] == 2 and summary.loc[1, "tenants"] == "acme, initech"
    assert summary.loc[1, "last_day"] == "2026-10-02"
    assert summary.loc[2, "tenants"] == "—"


def test_criteria_show_shares_as_percentages_with_their_units() -> None:
    shown = tables.criteria([
        {"name": "sheds_with_retry_after", "threshold": ">= 100 %", "measured": 1.0, "unit": "ratio",
         "passed": True, "source": "locust"},
        {"name": "recovery_s", "threshold": "<= 30 s", "measured": 1.4, "unit": "s", "passed": True,
         "source": "locust"},
        {"name": "knee_rps", "threshold": "reported", "measured": None, "unit": "req/s", "passed": False,
         "source": "locust"},
    ])  # fmt: skip
    assert shown["measured"].tolist() == ["100 %", "1.4 s", "—"]
    assert shown["passed"].tolist() == [True, True, False]
