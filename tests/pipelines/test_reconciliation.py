"""The reconciliation marts, built for real from invocation logs and a FOCUS bill written in the test,
against totals computed independently from those files (tests/pipelines/expected_reconciliation.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.pipelines import expected_reconciliation as expected
from tests.pipelines.conftest import Built
from tests.pipelines.providergen import (
    MALFORMED_LINE,
    NOT_GZIP,
    NOT_PARQUET,
    RESEARCH_ARN,
    SCRIPT_ARN,
    UNBILLED_DAY,
    UNROUTED_MODEL,
)

HAIKU = "anthropic.claude-3-5-haiku-v1"
EARLY_RISE = [dt.date(2026, 11, 13), dt.date(2026, 11, 14)]  # billed at the new price, catalog not yet


def test_invocation_logs_hold_each_request_once_including_the_late_object(built: Built) -> None:
    raw = built.frame("SELECT request_id, source_file, input_tokens, output_tokens FROM raw.invocation_logs")
    wanted = {r["requestId"] for r in built.provider.records}
    assert raw.height == len(wanted) == raw.get_column("request_id").n_unique()
    assert set(raw.get_column("request_id").to_list()) == wanted
    assert built.late_log_path in set(raw.get_column("source_file").to_list())
    assert raw.get_column("input_tokens").sum() == sum(
        r["input"]["inputTokenCount"] for r in built.provider.records
    )
    second = built.second.metadata["raw/invocation_logs"]
    assert second["objects_read"] == 1  # only the late object is read again
    assert second["records_loaded"] == second["records_read"] > 0
    assert built.first.metadata["raw/invocation_logs"]["duplicates_dropped"] > 0


def test_malformed_records_and_unreadable_objects_are_quarantined_and_named(built: Built) -> None:
    lake = built.lake.location
    malformed = built.first.metadata["raw/invocation_logs"]["malformed"]
    assert list(malformed.values()) == [1]
    [path] = malformed
    copy = f"quarantine/invocation-logs/{path.removesuffix('.json.gz')}.malformed.jsonl"
    assert lake.read_bytes(copy) == MALFORMED_LINE + b"\n"
    assert "line 4: not JSON" in lake.read_bytes(f"{copy}.reason.txt").decode()
    assert "not a gzip object" in built.first.metadata["raw/invocation_logs"]["quarantined"][NOT_GZIP]
    assert "Parquet" in built.first.metadata["raw/billing"]["quarantined"][NOT_PARQUET]
    assert built.provider.logs.exists(NOT_GZIP)  # the provider's bucket is left as it is
    assert any("quarantine_empty" in c and "invocation-logs" in c for c in built.second.failed_checks)


def test_billing_rows_and_costs_are_exact(built: Built) -> None:
    totals = built.frame(
        "SELECT count(*) AS n, sum(billed_cost)::VARCHAR AS billed, sum(list_cost)::VARCHAR AS list "
        "FROM raw.billing"
    ).row(0, named=True)
    assert totals["n"] == len(built.provider.bill)
    assert Decimal(totals["billed"]) == sum((b["BilledCost"] for b in built.provider.bill), Decimal(0))
    assert Decimal(totals["list"]) == sum((b["ListCost"] for b in built.provider.bill), Decimal(0))


def test_reconciliation_daily_matches_the_raw_files(built: Built) -> None:
    wanted = expected.reconciliation_daily(
        built.lake.events, built.provider.records, built.provider.bill, built.lake.v2
    )
    mart = built.frame(
        "SELECT *, billed_list_cost_usd::VARCHAR AS list_text, "
        "billed_effective_cost_usd::VARCHAR AS eff_text FROM marts.reconciliation_daily"
    )
    assert mart.height == len(wanted)
    for row in mart.iter_rows(named=True):
        want = wanted[(row["day"], row["account_id"], row["region"], row["model"])]
        where = f"{row['day']} {row['model']}"
        assert (row["gateway_requests"], row["gateway_input_tokens"], row["gateway_output_tokens"]) == (
            want["gateway"]["requests"],
            want["gateway"]["input"],
            want["gateway"]["output"],
        ), where
        assert (row["logged_requests"], row["logged_input_tokens"], row["logged_output_tokens"]) == (
            want["logged"]["requests"],
            want["logged"]["input"],
            want["logged"]["output"],
        ), where
        assert (row["logged_gateway_requests"], row["logged_gateway_input_tokens"]) == (
            want["logged_gateway"]["requests"],
            want["logged_gateway"]["input"],
        ), where
        for side, prefix in (("gateway", "gateway"), ("logged", "logged")):
            assert (row[f"{prefix}_cache_read_input_tokens"], row[f"{prefix}_cache_write_input_tokens"]) == (
                want[side]["cache_read"],
                want[side]["cache_write"],
            ), where
        assert row["shadow_requests"] == want["logged"]["requests"] - want["logged_gateway"]["requests"]
        assert row["gateway_cost_usd"] == pytest.approx(want["gateway_cost"], rel=1e-9, abs=1e-12), where
        if want["catalog_cost"] is None:
            assert row["logged_catalog_cost_usd"] is None, where
        else:
            assert row["logged_catalog_cost_usd"] == pytest.approx(want["catalog_cost"], rel=1e-9, abs=1e-12)
        if want["has_bill"]:
            assert Decimal(row["list_text"]) == want["billed"]["list"], where
            assert Decimal(row["eff_text"]) == want["billed"]["effective"], where
            assert row["billed_input_tokens"] == want["billed"]["input"], where
            assert (row["billed_cache_read_input_tokens"], row["billed_cache_write_input_tokens"]) == (
                want["billed"]["cache_read"],
                want["billed"]["cache_write"],
            ), where
        else:
            assert row["billed_list_cost_usd"] is None, where
        assert row["status"] == want["status"], where


def test_statuses_show_the_traps(built: Built) -> None:
    status = built.frame("SELECT day, model, status FROM marts.reconciliation_daily")
    by_key = {(r["day"], r["model"]): r["status"] for r in status.iter_rows(named=True)}
    assert {by_key[(day, HAIKU)] for day in EARLY_RISE} == {"cost_mismatch"}
    assert {s for (day, _), s in by_key.items() if day == UNBILLED_DAY} == {"no_bill_yet"}
    assert {s for (_, model), s in by_key.items() if model == UNROUTED_MODEL} == {
        "no_catalog_price",
        "no_bill_yet",
    }
    ok = [
        s
        for (day, model), s in by_key.items()
        if model == HAIKU and day not in EARLY_RISE and day < UNBILLED_DAY
    ]
    assert ok and set(ok) == {"ok"}


def test_the_cost_check_names_each_day_and_model_and_the_token_check_passes(built: Built) -> None:
    [cost] = [c for c in built.second.warnings if "cost_reconciles_with_bill" in c]
    assert "on 2 day(s)" in cost
    for day in EARLY_RISE:
        assert f"{day} {HAIKU}" in cost
    assert not [c for c in [*built.second.warnings, *built.second.failed_checks] if "tokens_reconcile" in c]


def test_shadow_spend_matches_the_raw_files(built: Built) -> None:
    wanted = expected.shadow_spend(
        built.lake.events, built.provider.records, built.provider.bill, built.lake.v2
    )
    mart = built.frame("SELECT *, cost_usd::VARCHAR AS cost_text FROM marts.shadow_spend")
    assert mart.height == len(wanted)
    for row in mart.iter_rows(named=True):
        want = wanted[(row["day"], row["identity_arn"], row["team"], row["model"])]
        assert (
            row["requests"],
            row["input_tokens"],
            row["output_tokens"],
            row["cache_read_input_tokens"],
            row["cache_write_input_tokens"],
        ) == (want["requests"], want["input"], want["output"], want["cache_read"], want["cache_write"])
        assert float(Decimal(row["cost_text"])) == pytest.approx(float(want["cost"]), rel=1e-9)
    teams = dict(built.frame("SELECT DISTINCT identity_arn, team FROM marts.shadow_spend").iter_rows())
    assert teams == {RESEARCH_ARN: "research", SCRIPT_ARN: "unmapped"}
    unbilled = built.frame(f"SELECT rate_day FROM marts.shadow_spend WHERE day = DATE '{UNBILLED_DAY}'")
    assert set(unbilled.get_column("rate_day").to_list()) == {UNBILLED_DAY - dt.timedelta(days=1)}


def test_drift_reports_the_early_price_and_the_shadow_spend(built: Built) -> None:
    drift = built.frame(
        "SELECT day, kind, subject, observed, expected, detail FROM marts.reconciliation_drift"
    )
    prices = drift.filter(drift.get_column("kind") == "price_catalog_drift")
    assert [(r["day"], r["subject"]) for r in prices.iter_rows(named=True)] == [
        (d, HAIKU) for d in EARLY_RISE
    ]
    assert {(r["observed"], r["expected"]) for r in prices.iter_rows(named=True)} == {(1.0, 0.8)}
    shadow = drift.filter(drift.get_column("kind") == "shadow_spend")
    wanted = expected.shadow_spend(
        built.lake.events, built.provider.records, built.provider.bill, built.lake.v2
    )
    per_month: dict[tuple[str, str], Decimal] = {}
    for (day, arn, team, _), row in wanted.items():
        key = (f"{team} ({arn})", day.strftime("%Y-%m"))
        per_month[key] = per_month.get(key, Decimal(0)) + row["cost"]
    got = {(r["subject"], r["day"].strftime("%Y-%m")): r["observed"] for r in shadow.iter_rows(named=True)}
    assert got.keys() == per_month.keys()
    for key, cost in per_month.items():
        assert got[key] == pytest.approx(float(cost), rel=1e-9)
