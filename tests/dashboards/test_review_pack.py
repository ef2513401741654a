from __future__ import annotations

import pandas as pd

from dashboards import review_pack, tables


def _review() -> dict[str, pd.DataFrame]:
    showback = pd.DataFrame(
        {"tenant_id": ["acme", "initech"], "team": ["payments", "search"], "app_id": ["a", "b"],
         "requests": [100, 50], "cost_usd": [1200.0, 950.0], "budget_usd": [2500.0, 900.0]}
    )  # fmt: skip
    previous = showback.assign(cost_usd=[1000.0, 400.0])
    slo = pd.DataFrame(
        {"latency_class": ["interactive"], "model_route": ["chat | main"], "requests": [1000], "ok": [990],
         "errors": [10], "within_latency_pct": [97.0], "availability_target": [0.995],
         "latency_target_ms": [3000.0], "p95_ms": [2500.0]}
    )  # fmt: skip
    routes = tables.route_slo(slo)
    return {
        "tenants": tables.tenant_spend(showback, previous),
        "lanes": tables.lane_slo(slo),
        "burned": tables.burned_error_budget(routes, pd.DataFrame(columns=["latency_class", "model_route"])),
        "movers": tables.cost_movers(showback, previous, ["tenant_id", "app_id"]),
        "drift": pd.DataFrame(
            {
                "day": ["2026-10-08"],
                "severity": ["high"],
                "kind": ["budget_overrun"],
                "tenant_id": ["initech"],
                "subject": ["2026-10"],
                "detail": ["month-to-date spend exceeded the budget"],
            }
        ),
        "loadtests": pd.DataFrame(
            {
                "run_id": ["run-2"],
                "scenario": ["saturation"],
                "verdict": ["fail"],
                "rps": [20.0],
                "p95_ms": [840.5],
                "error_rate": [0.5],
                "fallback_rate": [0.2],
                "refused_as_designed_rate": [0.4996],
                "unexpected_errors": [1],
            }
        ),
    }


def test_the_pack_carries_the_headline_and_every_section() -> None:
    parts = _review()
    head = tables.headline(
        "2026-10", parts["tenants"], True, parts["lanes"], parts["drift"], parts["loadtests"]
    )
    pack = review_pack.build(
        head, **parts, coverage="21 Oct–31 Oct 2026", previous_coverage="24 Sep–30 Sep 2026"
    )
    assert pack.startswith("# AI gateway monthly review — October 2026\n")
    assert "> The warehouse covers 21 Oct–31 Oct 2026 of this month" in pack
    assert (
        "- **Spend:** $2,150 — +53.6% vs previous month "
        "($1,400, which the warehouse covers 24 Sep–30 Sep 2026 only)" in pack
    )
    assert "1 tenant(s) over budget" in pack  # initech: $950 of $900
    assert "0 of 1 lanes met their SLO" in pack
    assert "| initech | b | $400.00 | $950.00 | +$550.00 |" in pack  # the biggest mover first
    assert (
        "| interactive | chat / main | 200.0% | -100.0% | 0 |" in pack
    )  # a '|' in a value cannot break the table
    assert "| run-2 | saturation | fail | 20.0 | 840 | 50.0% | 1 | 20.0% |" in pack  # shed by design, 1 not
    assert "up to the review" not in pack
    assert "| budget_overrun | high | 1 | initech | 2026-10-08 |" in pack
    assert "- 2026-10-08 · budget_overrun · initech: month-to-date spend exceeded the budget" in pack
    for section in ("## Spend and budgets by tenant", "## Top cost movers", "## SLO attainment by lane",
                    "## Lanes that burned error budget", "## Policy drift", "## Load tests"):  # fmt: skip
        assert section in pack


def test_the_review_month_says_when_it_counts_load_tests_run_after_it() -> None:
    parts = _review()
    head = tables.headline(
        "2026-10", parts["tenants"], True, parts["lanes"], parts["drift"], parts["loadtests"]
    )
    pack = review_pack.build(head, **parts, loadtests_since=True)
    assert "Runs from the start of October 2026 up to the review" in pack


def test_an_empty_month_still_reads_well() -> None:
    empty = {name: frame.iloc[0:0] for name, frame in _review().items()}
    head = tables.headline(
        "2026-10", empty["tenants"], False, empty["lanes"], empty["drift"], empty["loadtests"]
    )
    pack = review_pack.build(head, **empty)
    assert "no previous month in the warehouse" in pack
    assert "No load tests ran this month." in pack
    assert "No SLO data this month." in pack
