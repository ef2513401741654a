"""Month-to-date spend from a real lake written by real lake writers (and a crashed run's spool)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.spend import (
    month_files,
    month_start_of,
    next_month,
    read_month_spend,
    read_spool,
)
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.telemetry.events import make_event
from tests.gateway_shim.telemetry.spend_lake import leave_in_spool, spend_events, us, write_lake

NOVEMBER = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> LakeLocation:
    root = tmp_path_factory.mktemp("spend")
    location = LakeLocation.parse(str(root / "lake"))
    write_lake(location, root / "spool", spend_events(NOVEMBER, "acme", "globex"))
    return location


def test_month_boundaries() -> None:
    assert month_start_of(dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 1)
    assert month_start_of(dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))) \
        == dt.date(2026, 11, 1)
    assert next_month(dt.date(2026, 12, 1)) == dt.date(2027, 1, 1)
    assert next_month(NOVEMBER) == dt.date(2026, 12, 1)


def test_sums_the_months_distinct_events_per_tenant(lake: LakeLocation) -> None:
    assert read_month_spend(lake, NOVEMBER).by_tenant == {"acme": 0.875, "globex": 0.75}


def test_only_the_months_partitions_are_read(lake: LakeLocation) -> None:
    every = [f.path for f in lake.list_files("events/v1")]
    by_day = month_files(lake, NOVEMBER)
    files = [(day, path) for day, paths in by_day.items() for path in paths]
    assert any("dt=2026-10-31" in p for p in every) and any("dt=2026-12-01" in p for p in every)
    assert sorted(by_day) == [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]
    assert files and all(f"/dt={day}/" in path for day, path in files)
    assert len(files) == len([p for p in every if "/dt=2026-11-" in p])
    spend = read_month_spend(lake, NOVEMBER)
    assert (spend.events, spend.files) == (6, len(files))  # 1..3, 6, 7 (no tenant), 8 (no cost)


def test_neighbouring_months_have_their_own_spend(lake: LakeLocation) -> None:
    assert read_month_spend(lake, dt.date(2026, 10, 1)).by_tenant == {"acme": 1.0}
    assert read_month_spend(lake, dt.date(2026, 12, 1)).by_tenant == {"acme": 2.0}
    assert read_month_spend(lake, dt.date(2026, 9, 1)).by_tenant == {}


def test_an_empty_or_missing_lake_has_no_spend(tmp_path: Path) -> None:
    assert read_month_spend(LakeLocation.parse(str(tmp_path / "empty")), NOVEMBER).by_tenant == {}


def test_spooled_events_count_once_with_the_lake(lake: LakeLocation, tmp_path: Path) -> None:
    replica_a, _ = spend_events(NOVEMBER, "acme", "globex")
    already_uploaded = replica_a[1]  # acme 0.5, in the lake too
    only_spooled = {**already_uploaded, "event_id": "evt-spooled", "estimated_cost_usd": 2.0,
                    "ts": us(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))}
    leave_in_spool(tmp_path / "spool", [already_uploaded, only_spooled])
    spooled = read_spool(tmp_path / "spool")
    assert sum(t.num_rows for t in spooled) == 2
    assert read_month_spend(lake, NOVEMBER, spooled).by_tenant == {"acme": 2.875, "globex": 0.75}
    assert read_spool(tmp_path / "no-spool") == []


def _one_event(**overrides: object) -> pa.Table:
    event = make_event(500, us(dt.datetime(2026, 11, 3, 4, tzinfo=dt.UTC)), tenant_id="acme",
                       estimated_cost_usd=100.0)
    table = pa.Table.from_pylist([event], schema=EVENT_SCHEMA)
    for name, column in overrides.items():
        table = table.set_column(EVENT_SCHEMA.get_field_index(name), name, column)
    return table


@pytest.mark.parametrize(("table", "reason"), [
    (_one_event(estimated_cost_usd=pa.array(["100.0"])), "column estimated_cost_usd is string"),
    (_one_event(schema_version=pa.array([3], pa.int16())), "schema_version [3] is not one of [1, 2]"),
    (_one_event(event_id=pa.array([None], pa.string())), "column event_id has null values"),
    (_one_event().append_column("prompt", pa.array(["x"])), "column(s) not in event schema v2: prompt"),
])
def test_a_bad_file_is_skipped_with_its_reason_and_the_rest_still_counts(
        tmp_path: Path, table: pa.Table, reason: str) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    write_lake(location, tmp_path / "spool", spend_events(NOVEMBER, "acme", "globex"))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    bad = "events/v1/dt=2026-11-03/hour=04/bad.parquet"
    location.write_bytes(bad, sink.getvalue().to_pybytes())
    spend = read_month_spend(location, NOVEMBER)
    assert spend.by_tenant == {"acme": 0.875, "globex": 0.75}
    assert list(spend.skipped) == [bad] and reason in spend.skipped[bad]


def test_load_test_traffic_is_not_tenant_spend(tmp_path: Path) -> None:
    """Issue 13: a load test against a real gateway (run id ``lt-…``) must not seed tenants' budgets."""
    location = LakeLocation.parse(str(tmp_path / "lake"))
    batches = spend_events(NOVEMBER, "acme", "globex")
    load = [{**event, "event_id": f"lt-{event['event_id']}", "run_id": "lt-fallback-20261118T100000Z-abc123"}
            for batch in batches for event in batch]
    write_lake(location, tmp_path / "spool", [*batches, load])
    assert read_month_spend(location, NOVEMBER).by_tenant == {"acme": 0.875, "globex": 0.75}
