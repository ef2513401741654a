"""Every mart, built for real from a lake written in the test, against totals computed independently."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from analytics.thresholds import DRIFT_THRESHOLDS
from tests.pipelines import expected
from tests.pipelines.conftest import Built
from tests.pipelines.lakegen import (
    BAD_SUMMARY_PATH,
    CORRUPT_PATH,
    EDGE_STATUS,
    EMPTY_DAY,
    FOREIGN_PATH,
    HAIKU,
    HAIKU_PER_IMAGE_USD,
    LATE_DAY,
    LOAD_TEST_RUN,
    MISPRICED_DAY,
    MISPRICED_MODEL,
    POLICY_CHANGE_AT,
)


def assert_same(actual: pl.DataFrame, wanted: pl.DataFrame, keys: list[str], values: list[str]) -> None:
    """Same keys, row for row, and the same values (floats to 1e-9 relative)."""
    a = actual.select(keys + values).sort(keys, nulls_last=True)
    w = wanted.select(keys + values).sort(keys, nulls_last=True)
    assert a.height == w.height, f"{a.height} rows, expected {w.height}"
    for key in keys:
        assert a.get_column(key).to_list() == w.get_column(key).to_list(), key
    for column in values:
        for i, (got, want) in enumerate(
            zip(a.get_column(column).to_list(), w.get_column(column).to_list(), strict=True)
        ):
            if want is None:
                assert got is None, f"{column} row {i}: {got} is not null"
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (
                    f"{column} row {i}: {dict(a.row(i, named=True))}"
                )


@pytest.fixture(scope="module")
def events(built: Built) -> pl.DataFrame:
    return expected.events_frame(built.lake.events, built.lake.v2)


@pytest.fixture(scope="module")
def cost(events: pl.DataFrame) -> pl.DataFrame:
    return expected.cost_daily(events)


def test_raw_events_hold_each_event_once_including_late_ones(built: Built) -> None:
    raw = built.frame("SELECT event_id, dt, ts FROM raw.events")
    wanted = {e["event_id"] for e in built.lake.events}
    assert raw.height == len(wanted) == raw.get_column("event_id").n_unique()
    assert set(raw.get_column("event_id").to_list()) == wanted
    assert built.late_event_ids <= wanted
    assert raw.filter(pl.col("dt") != pl.col("ts").dt.date()).height == 0
    assert raw.filter(pl.col("dt") == EMPTY_DAY).height == 0


def test_second_run_reloads_only_the_day_with_late_data(built: Built) -> None:
    assert built.first.success and built.second.success
    assert built.second.days == [LATE_DAY]
    assert built.second.metadata["raw/events"]["days_loaded"] == [LATE_DAY.isoformat()]
    assert built.first.metadata["raw/events"]["duplicates_dropped"] == 40


def test_cost_daily_prices_each_day_at_its_own_price(built: Built, cost: pl.DataFrame) -> None:
    actual = built.frame("SELECT * FROM marts.cost_daily")
    values = ["requests", "ok_requests", "input_tokens", "output_tokens", "cost_usd", "estimated_cost_usd",
              "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "input_images",
              "priced_requests", "priced_input_tokens", "priced_output_tokens", *expected.COST_PARTS]
    assert_same(actual, cost, expected.COST_KEYS, values)
    haiku = actual.filter(pl.col("model_name") == "anthropic.claude-3-5-haiku-v1")
    prices = haiku.group_by(pl.col("day") >= dt.date(2026, 11, 15)).agg(pl.col("input_per_mtok").unique())
    assert sorted(p for ps in prices.get_column("input_per_mtok").to_list() for p in ps) == [0.8, 1.0]
    parts = actual.select(pl.sum_horizontal(*expected.COST_PARTS) - pl.col("cost_usd")).to_series()
    assert parts.abs().max() < 1e-9, "the parts add up to cost_usd"
    unpriced = [e for e in built.lake.events if e.get("operation") == "count_tokens"]
    assert unpriced, "the scenario has unpriced operations; expected.py gives them no cost either"
    cached = haiku.filter(pl.col("cache_read_tokens") > 0)
    assert cached.height and (cached.get_column("cached_input_cost_usd") > 0).all()


def test_images_are_priced_per_image_at_the_price_of_their_day(built: Built) -> None:
    """Counted straight from the events written, priced with the test catalog's two Haiku prices; the
    images of calls recorded unpriced (CountTokens) neither count nor cost."""
    served = [e for e in built.lake.events if e["outcome"] == "ok" and e.get("input_images")
              and e["estimated_cost_usd"] is not None and not e["run_id"].startswith("lt-")]
    unpriced = [e for e in built.lake.events if e.get("input_images") and e["estimated_cost_usd"] is None]
    assert unpriced, "some CountTokens calls carry images"
    change = dt.date(2026, 11, 15)
    haiku = [sum(e["input_images"] for e in served
                 if e["model_name"] == HAIKU and (e["ts"].date() >= change) == after)
             for after in (False, True)]
    others = sum(e["input_images"] for e in served if e["model_name"] != HAIKU)
    assert min(*haiku, others) > 0, "the scenario sends images to Haiku on both prices and to unpriced models"
    rows = built.frame(
        f"SELECT coalesce(model_name = '{HAIKU}', false) AS is_haiku, day >= DATE '{change}' AS after,"
        " sum(input_images) AS images, sum(image_cost_usd) AS image_cost FROM marts.cost_daily GROUP BY ALL"
    )
    got = {(r["is_haiku"], r["after"]): (r["images"], r["image_cost"]) for r in rows.iter_rows(named=True)}
    for after in (False, True):
        images, usd = got[(True, after)]
        assert images == haiku[after]
        assert usd == pytest.approx(haiku[after] * HAIKU_PER_IMAGE_USD[after], rel=1e-12)
    assert sum(got[(False, after)][0] for after in (False, True) if (False, after) in got) == others
    assert all(got[(False, after)][1] == 0 for after in (False, True) if (False, after) in got)
    monthly = built.frame("SELECT sum(image_cost_usd) AS usd FROM marts.showback_monthly")
    wanted = sum(n * p for n, p in zip(haiku, HAIKU_PER_IMAGE_USD, strict=True))
    assert monthly.item() == pytest.approx(wanted, rel=1e-12)


def test_showback_monthly(built: Built, cost: pl.DataFrame) -> None:
    actual = built.frame("SELECT * FROM marts.showback_monthly")
    wanted = expected.showback_monthly(cost, built.lake.v2)
    assert_same(
        actual,
        wanted,
        ["month", "tenant_id", "team", "app_id"],
        [
            "requests",
            "cost_usd",
            "budget_usd",
            "budget_used_pct",
            "tenant_budget_used_pct",
            "prev_month_cost_usd",
            "change_pct",
            *expected.COST_PARTS,
        ],
    )
    assert actual.filter(pl.col("prev_month_cost_usd").is_not_null()).height > 0
    assert actual.get_column("cached_input_cost_usd").sum() > 0
    assert actual.get_column("reasoning_cost_usd").sum() > 0


def test_budget_status(built: Built, cost: pl.DataFrame) -> None:
    actual = built.frame("SELECT * FROM marts.budget_status")
    wanted = pl.DataFrame(expected.budget_status(cost, built.lake.v2))
    assert_same(
        actual,
        wanted,
        ["month", "tenant_id", "as_of_day", "status"],
        ["mtd_cost_usd", "forecast_month_end_usd", "days_to_exhaustion"],
    )
    assert "over_budget" in actual.get_column("status").to_list()
    edges = actual.filter((pl.col("month") == dt.date(2026, 11, 1)) & pl.col("tenant_id").is_in(EDGE_STATUS))
    assert dict(edges.select("tenant_id", "status").rows()) == EDGE_STATUS


SLO_VALUES = [
    "requests",
    "ok",
    "errors",
    "policy_outcomes",
    "client_errors",
    "availability",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "within_latency_pct",
    "burn_rate",
]


def test_slo_daily(built: Built, events: pl.DataFrame) -> None:
    actual = built.frame("SELECT * FROM marts.slo_daily")
    wanted = expected.slo_daily(events, built.lake.v2)
    assert_same(actual, wanted, ["day", *expected.SLO_KEYS], [*SLO_VALUES, "error_budget_remaining_pct"])
    assert actual.get_column("errors").sum() > 0 and actual.get_column("policy_outcomes").sum() > 0


def test_slo_monthly_percentiles_come_from_raw_rows(built: Built, events: pl.DataFrame) -> None:
    actual = built.frame("SELECT * FROM marts.slo_monthly")
    wanted = expected.slo_monthly(events, built.lake.v2)
    assert_same(actual, wanted, ["month", *expected.SLO_KEYS], SLO_VALUES)


def test_slo_alerts_fire_when_both_windows_burn(built: Built, events: pl.DataFrame) -> None:
    actual = built.frame(
        "SELECT latency_class, model_route, severity, long_window, short_window, fired_at, last_firing_at "
        "FROM marts.slo_alerts ORDER BY fired_at, latency_class, model_route, long_window"
    )
    wanted = expected.slo_alerts(events, built.lake.v2)
    assert sorted(actual.rows()) == sorted(wanted)
    pages = actual.filter(
        (pl.col("severity") == "page")
        & (pl.col("model_route") == "interactive-chat")
        & (pl.col("fired_at").dt.date() == dt.date(2026, 11, 18))
    )
    assert pages.height >= 1


def test_policy_drift(built: Built, events: pl.DataFrame, cost: pl.DataFrame) -> None:
    lake = built.lake
    actual = built.frame("SELECT * FROM marts.policy_drift")
    versions = {lake.v1.policy_version: lake.v1, lake.v2.policy_version: lake.v2}
    wanted: dict[tuple[Any, ...], Any] = expected.policy_drift(
        events, cost, versions, lake.v2, DRIFT_THRESHOLDS
    )
    wanted[(POLICY_CHANGE_AT.date(), None, "policy_change", lake.v2.policy_version)] = 1
    got = {
        (r["day"], r["tenant_id"], r["kind"], r["subject"]): r["observed"]
        for r in actual.iter_rows(named=True)
    }
    assert set(got) == set(wanted)
    for key, observed in wanted.items():
        assert got[key] == pytest.approx(observed, rel=1e-9), key
    kinds = set(actual.get_column("kind").to_list())
    assert {
        "allowlist_violation",
        "policy_change",
        "fallback_rate_shift",
        "untagged_spend",
        "prompt_version_change",
        "budget_overrun",
    } <= kinds
    change = actual.filter(pl.col("kind") == "policy_change").row(0, named=True)
    assert "data_classes.restricted.models" in change["detail"]
    # restricted data on Nova Lite is a violation only for events that carried the second version
    nova = actual.filter(pl.col("subject") == "restricted -> bedrock/amazon.nova-lite-v1")
    assert nova.height > 0 and lake.v2.policy_version in nova.get_column("detail")[0]
    assert all(d >= POLICY_CHANGE_AT.date() for d in nova.get_column("day").to_list())


def test_loadtest_runs(built: Built) -> None:
    actual = built.frame("SELECT * FROM marts.loadtest_runs ORDER BY run_id")
    assert actual.get_column("run_id").to_list() == [s["run_id"] for s in built.lake.summaries]
    first = actual.row(0, named=True)
    assert first["started_at"] == dt.datetime(2026, 11, 18, 10, 0)
    assert first["verdict"] == "pass" and first["p95_ms"] == 840.5 and first["requests"] == 1200
    assert json.loads(first["details"]) == built.lake.summaries[0]["criteria"]
    # a summary from before the errors were split leaves the split NULL; a newer one carries it
    assert (first["refused_as_designed_rate"], first["unexpected_errors"]) == (None, None)
    second = actual.row(1, named=True)
    assert (second["refused_as_designed_rate"], second["unexpected_errors"]) == (0.5, 0)


def test_bad_objects_are_quarantined_with_reasons_and_the_checks_fail(built: Built) -> None:
    location = built.lake.location
    for path in (CORRUPT_PATH, FOREIGN_PATH):
        assert not location.exists(path)
        assert location.exists(f"quarantine/{path}")
        assert location.read_bytes(f"quarantine/{path}.reason.txt").decode().startswith(path)
    assert location.exists(BAD_SUMMARY_PATH) and location.exists(f"quarantine/{BAD_SUMMARY_PATH}")
    failed = " ".join(built.first.failed_checks)
    assert "quarantine_empty" in failed and "Parquet" in failed and "missing required column" in failed
    reconciliation = [c for c in built.first.failed_checks if "cost_reconciliation" in c]
    assert len(reconciliation) == 1
    assert MISPRICED_DAY.isoformat() in reconciliation[0] and MISPRICED_MODEL in reconciliation[0]
    assert "anthropic" not in reconciliation[0]


def test_rows_on_the_thresholds_count_on_their_documented_side(built: Built) -> None:
    """The lake holds ok requests exactly at each lane's latency target, and a 500 that no outcome
    marks as an upstream error (an error) beside a 499 (not one): test_slo_* check where they land."""
    lanes = built.lake.v2.lanes
    at_target = built.frame("SELECT latency_class, total_latency_ms FROM raw.events WHERE outcome = 'ok'")
    for lane, settings in lanes.items():
        on_it = at_target.filter(
            (pl.col("latency_class") == lane) & (pl.col("total_latency_ms") == settings.slo.latency_ms)
        )
        assert on_it.height >= 2, lane
    edges = built.frame(
        "SELECT status_code, outcome, is_error, is_policy, is_client_error FROM raw.slo_events "
        "WHERE status_code IN (499, 500) AND outcome <> 'upstream_error' ORDER BY status_code"
    )
    assert edges.rows() == [(499, "client_error", False, False, True)] * 2 + [
        (500, "throttled", True, False, False)
    ] * 2


def test_load_test_traffic_stays_out_of_the_cost_marts(built: Built) -> None:
    """Issue 13: a load test run against the real gateway lands in raw.events, not in tenant spend."""
    raw = built.frame(f"SELECT count(*) AS n, sum(estimated_cost_usd) AS usd FROM raw.events "
                      f"WHERE run_id = '{LOAD_TEST_RUN}'")
    assert raw.item(0, "n") == 25 and raw.item(0, "usd") > 0
    total = built.frame("SELECT sum(estimated_cost_usd) AS usd FROM raw.events "
                        "WHERE NOT starts_with(coalesce(run_id, ''), 'lt-')").item()
    marts = built.frame("SELECT sum(estimated_cost_usd) AS usd FROM marts.cost_daily").item()
    showback = built.frame("SELECT sum(estimated_cost_usd) AS usd FROM marts.showback_monthly").item()
    assert marts == pytest.approx(total, rel=1e-9) and showback == pytest.approx(total, rel=1e-9)
