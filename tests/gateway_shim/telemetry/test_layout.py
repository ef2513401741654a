from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa

from gateway_shim.telemetry.columnar import to_record_batch
from gateway_shim.telemetry.layout import (
    event_day,
    events_file_path,
    hour_prefix,
    is_loadtest_summary,
    layout_problem,
    loadtest_summary_path,
    split_by_hour,
    stamp,
)
from tests.gateway_shim.telemetry.events import BASE_TS, HOUR_US, make_event


def table_of(stamps: list[int]) -> pa.Table:
    batch, _ = to_record_batch([make_event(i, ts) for i, ts in enumerate(stamps)], "gw")
    return pa.Table.from_batches([batch])


def test_rows_split_into_hourly_partitions_in_time_order() -> None:
    before_midnight = BASE_TS - 1
    stamps = [BASE_TS + HOUR_US + 5, before_midnight, BASE_TS, BASE_TS + HOUR_US, BASE_TS + 10]
    parts = list(split_by_hour(table_of(stamps)))
    assert [(p.day, p.hour, p.table.num_rows) for p in parts] == [
        ("2026-11-29", "23", 1),
        ("2026-11-30", "00", 2),
        ("2026-11-30", "01", 2),
    ]
    assert parts[1].prefix == "events/v1/dt=2026-11-30/hour=00"
    assert sorted(parts[2].table.column("event_id").to_pylist()) == ["evt-00000000", "evt-00000003"]


def test_one_hour_is_one_partition_and_empty_is_none() -> None:
    assert [p.table.num_rows for p in split_by_hour(table_of([BASE_TS + 1, BASE_TS + 2]))] == [2]
    assert list(split_by_hour(table_of([]))) == []


def test_file_names_follow_the_layout_and_are_stable_per_segment() -> None:
    (part,) = split_by_hour(table_of([BASE_TS + 61_000_000, BASE_TS + 62_000_000]))
    name = events_file_path("gw-1", "000000000007-abc", part)
    assert re.fullmatch(
        r"events/v1/dt=2026-11-30/hour=00/gw-1-20261130T000101Z-[0-9a-f]{32}\.parquet", name
    ), name
    assert name == events_file_path("gw-1", "000000000007-abc", part)
    assert name != events_file_path("gw-1", "000000000008-def", part)
    assert stamp(BASE_TS) == "20261130T000000Z"


def test_event_day_follows_the_layout() -> None:
    path = "events/v1/dt=2026-11-03/hour=07/gw-a-1.parquet"
    assert event_day(path) == dt.date(2026, 11, 3)
    assert path.startswith(hour_prefix(dt.date(2026, 11, 3), 7) + "/")
    assert event_day("events/v1/dt=2026-11-03/gw-a-1.parquet") is None
    assert event_day("events/v1/dt=2026-13-03/hour=07/x.parquet") is None
    assert event_day("events/v1/dt=2026-11-03/hour=07/x.json") is None
    assert event_day("events/v2/dt=2026-11-03/hour=07/x.parquet") is None


def test_only_a_runs_own_summary_json_counts() -> None:
    assert loadtest_summary_path("run-1") == "loadtests/run-1/summary.json"
    assert is_loadtest_summary(loadtest_summary_path("run-1"))
    assert not is_loadtest_summary("loadtests/run-1/stats.csv")
    assert not is_loadtest_summary("loadtests/summary.json")
    assert not is_loadtest_summary("loadtests/run-1/lake/summary.json")


def test_invalid_partition_values_are_named() -> None:
    assert event_day("events/v1/dt=2026-11-03/hour=07/gw-a-1.parquet") == dt.date(2026, 11, 3)
    assert event_day("events/v1/dt=2026-11-03/gw-a-1.parquet") is None
    assert event_day("events/v1/dt=2026-13-03/hour=07/x.parquet") is None
    assert event_day("events/v1/dt=2026-11-03/hour=24/x.parquet") is None
    assert layout_problem("events/v1/dt=2026-11-03/hour=99/x.parquet") == (
        "partition hour=99 is not an hour (00-23)")
    assert layout_problem("events/v1/dt=2026-13-03/hour=07/x.parquet") == (
        "partition dt=2026-13-03 is not a date")
    assert layout_problem("events/v1/dt=2026-11-03/hour=07/gw-a-1.parquet") is None
    assert event_day("events/v1/dt=2026-11-03/hour=07/x.json") is None
