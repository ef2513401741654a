"""The provider's records from elsewhere than the lake (S3 through moto), a late invocation-log object
that makes the token check fail by day and model until it arrives, and a lake without provider records."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.warehouse import connect_read_only
from gateway_shim.policy.cost import PriceBook
from gateway_shim.telemetry.storage import LakeLocation
from tests.helpers import MotoS3Server
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import HAIKU, Lake, small_lake, write_events
from tests.pipelines.providergen import (
    Prices,
    ProviderRecords,
    by_hour,
    gateway_records,
    line_of,
    object_path,
    write_bill,
    write_log_object,
)

HELD_BACK = dt.datetime(2026, 11, 14, 13, tzinfo=dt.UTC)
CACHED_USAGE = {"input_tokens": 4000, "cache_read_tokens": 2048, "cache_write_tokens": 512,
                "output_tokens": 300}
"""A Converse call served partly from the prompt cache, as its event counts it (input incl. cache)."""


def _provider(lake: Lake, logs: LakeLocation, billing: LakeLocation, hold_back: dt.datetime | None) -> str:
    """Logs for every Bedrock call of the lake (one object an hour, less ``hold_back``'s) and the full
    bill; returns the held-back object's path."""
    provider = ProviderRecords(logs, billing, gateway_records(lake.events, random.Random(3)))
    held = ""
    for hour, records in by_hour(provider.records).items():
        path = object_path(hour, "a")
        if hour == hold_back:
            held = path
            continue
        write_log_object(logs, path, [line_of(r) for r in records])
    write_bill(provider, price=lambda model, day: _catalog(lake, model, day))
    return held


def _catalog(lake: Lake, model: str, day: dt.date) -> Prices:
    """The catalog's own price: a bill that agrees with it (an unset cache price is the input price)."""
    price = lake.v2.price_on(model, day)
    assert price is not None
    read = price.input_per_mtok if price.cache_read_per_mtok is None else price.cache_read_per_mtok
    write = price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    input_price, output_price = Decimal(str(price.input_per_mtok)), Decimal(str(price.output_per_mtok))
    return input_price, output_price, Decimal(str(read)), Decimal(str(write))


def test_a_late_log_object_fails_the_token_check_for_its_day_until_it_lands(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path)
    logs, billing = LakeLocation.parse(str(tmp_path / "lake/provider/invocation-logs")), LakeLocation.parse(
        str(tmp_path / "lake/provider/focus")
    )
    held = _provider(lake, logs, billing, HELD_BACK)
    warehouse = tmp_path / "warehouse.duckdb"
    first = run(lake, warehouse)
    [failed] = first.warnings  # WARN: a finding about the world, the run still succeeds
    assert "tokens_reconcile" in failed and "2026-11-14 " in failed
    assert "2026-11-13 " not in failed and "2026-11-15 " not in failed
    records = by_hour(gateway_records(lake.events, random.Random(3)))[HELD_BACK]
    write_log_object(logs, held, [line_of(r) for r in records])
    second = run(lake, warehouse)
    assert second.success and not second.failed_checks and not second.warnings, second.warnings
    assert second.metadata["raw/invocation_logs"]["objects_read"] == 1
    with connect_read_only(warehouse) as connection:
        statuses = connection.sql("SELECT DISTINCT status FROM marts.reconciliation_daily").fetchall()
    assert statuses == [("ok",)]


def test_provider_records_are_read_from_s3(
    s3_server: MotoS3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = s3_server.make_bucket("aigw-provider-records")
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=2)
    config = lake.config_path.read_text()
    lake.config_path.write_text(
        config.replace('invocation_logs: ""', f"invocation_logs: {bucket}/logs").replace(
            'billing: ""', f"billing: {bucket}/focus"
        )
    )
    logs, billing = LakeLocation.parse(f"{bucket}/logs"), LakeLocation.parse(f"{bucket}/focus")
    _provider(lake, logs, billing, hold_back=None)
    outcome = run(lake, tmp_path / "wh.duckdb")
    assert outcome.success and not outcome.failed_checks, outcome.failed_checks
    assert not outcome.warnings, outcome.warnings
    calls = len(gateway_records(lake.events, random.Random(3)))
    assert outcome.metadata["raw/invocation_logs"]["records_loaded"] == calls > 0
    assert outcome.metadata["raw/invocation_logs"]["source"] == f"{bucket}/logs"
    assert outcome.metadata["raw/billing"]["rows"] > 0


def test_a_lake_without_provider_records_reconciles_nothing_and_fails_nothing(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=1)
    warehouse = tmp_path / "warehouse.duckdb"
    outcome = run(lake, warehouse)
    assert outcome.success and not outcome.failed_checks
    with connect_read_only(warehouse) as connection:
        statuses = connection.sql("SELECT DISTINCT status FROM marts.reconciliation_daily").fetchall()
        shadow = connection.sql("SELECT count(*) FROM marts.shadow_spend").fetchall()
    assert statuses == [("no_logs",)] and shadow == [(0,)]


def test_a_cached_call_reconciles_with_the_record_bedrock_writes_for_it(tmp_path: Path) -> None:
    """The event counts cached input in ``input_tokens``; Bedrock's log counts it apart from
    ``inputTokenCount`` and bills it on its own usage types: the three sides still agree, exactly."""
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=1)
    template = next(
        e
        for e in lake.events
        if e["model_name"] == HAIKU and e["model_provider"] == "bedrock" and e["outcome"] == "ok"
    )
    cached = template | CACHED_USAGE | {
        "event_id": "00000000-0000-4000-8000-00000000cac4",
        "trace_id": "cac4" * 8,
        "schema_version": 2,
        "operation": "chat",
        "reasoning_tokens": 0,
        "tool_calls": 0,
        "modalities": ["text"],
    }
    epoch_day = (cached["ts"].date() - dt.date(1970, 1, 1)).days
    cached["estimated_cost_usd"] = PriceBook(lake.v2.pricing).cost(HAIKU, epoch_day, 4000, 300, 2048, 512)
    write_events(lake.location, [cached], "gw-a", "cached")
    lake.events.append(cached)
    logs, billing = LakeLocation.parse(str(tmp_path / "lake/provider/invocation-logs")), LakeLocation.parse(
        str(tmp_path / "lake/provider/focus")
    )
    _provider(lake, logs, billing, hold_back=None)
    warehouse = tmp_path / "warehouse.duckdb"
    outcome = run(lake, warehouse)
    assert outcome.success and not outcome.failed_checks, outcome.failed_checks
    assert not outcome.warnings, "\n".join(outcome.warnings)
    day = cached["ts"].date()
    served = [
        e
        for e in lake.events
        if e["model_name"] == HAIKU
        and e["model_provider"] == "bedrock"
        and e["ts"].date() == day
        and e["outcome"] != "upstream_error"
    ]
    gateway_input = sum(e["input_tokens"] or 0 for e in served)
    with connect_read_only(warehouse) as connection:
        logged = connection.execute(
            "SELECT input_tokens, cache_read_input_tokens, cache_write_input_tokens, output_tokens "
            "FROM raw.invocation_logs WHERE trace_id = ?",
            [cached["trace_id"]],
        ).fetchall()
        row = connection.execute(
            "SELECT gateway_input_tokens, logged_gateway_input_tokens, logged_input_tokens, "
            "billed_input_tokens, logged_cache_read_input_tokens, logged_cache_write_input_tokens, "
            "gateway_vs_logged_tokens, logged_vs_billed_tokens, status FROM marts.reconciliation_daily "
            "WHERE day = ? AND model = ?",
            [day, HAIKU],
        ).fetchall()
    assert logged == [(4000 - 2048 - 512, 2048, 512, 300)]  # as Bedrock logs it: input without the cache
    assert row == [(gateway_input, gateway_input, gateway_input, gateway_input, 2048, 512, 0, 0, "ok")]
