"""The lake sensor: cursor on new objects → partition-range runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_watch import Cursor, changes_since
from pipelines.resources import LakeResource
from pipelines.sensors import lake_sensor
from tests.pipelines.lakegen import Generator, small_lake, write_events


def tick(lake_url: str, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources={"lake": LakeResource(url=lake_url)}) as context:
        result = lake_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_requests_the_new_days_then_only_late_ones(tmp_path: Path) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path)
    first = tick(location.url, None)
    assert [r.job_name for r in first.run_requests or []] == ["lake_job"]
    assert (first.run_requests or [])[0].tags == {
        "dagster/asset_partition_range_start": "2026-11-13",
        "dagster/asset_partition_range_end": "2026-11-15",
    }
    assert tick(location.url, first.cursor).run_requests == []
    late = Generator(lake.v2, lake.v2).event(dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC))
    write_events(location, [late], "gw-late", "late")
    third = tick(location.url, first.cursor)
    assert [r.tags["dagster/asset_partition_range_start"] for r in third.run_requests or []] == ["2026-11-02"]


def test_sensor_refreshes_marts_for_a_new_loadtest_summary(tmp_path: Path) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    small_lake(location, tmp_path)
    cursor = tick(location.url, None).cursor
    location.write_bytes("loadtests/run-9/summary.json", b"{}")
    result = tick(location.url, cursor)
    assert [r.job_name for r in result.run_requests or []] == ["refresh_job"]


def test_cursor_keeps_objects_that_share_the_newest_mtime() -> None:
    first = changes_since([("events/v1/dt=2026-11-01/hour=01/a.parquet", 10)], Cursor())
    assert first.days == {dt.date(2026, 11, 1)}
    again = changes_since(
        [
            ("events/v1/dt=2026-11-01/hour=01/a.parquet", 10),
            ("events/v1/dt=2026-11-02/hour=01/b.parquet", 10),
        ],
        first.cursor,
    )
    assert again.days == {dt.date(2026, 11, 2)}
    assert Cursor.loads(again.cursor.dumps()) == again.cursor
    assert changes_since([("events/v1/dt=2026-11-01/hour=01/a.parquet", 10)], again.cursor).days == set()

