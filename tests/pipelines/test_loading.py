"""Loading days: a corrupt page behind a valid footer and rows that break the schema are quarantined
object by object while the rest of the day loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from analytics.sql_files import load_sql
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_events import OUTSIDE_LAYOUT, list_event_objects
from pipelines.loading import load_days
from tests.pipelines.lakegen import Generator, small_lake, write_events

DAY = dt.date(2026, 11, 13)


@pytest.fixture
def connection(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(load_sql("schema"))
    return connection


def test_a_corrupt_page_and_a_wrong_schema_version_are_quarantined(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=1)
    objects = list_event_objects(location)
    victim = objects[0].path
    data = bytearray(location.read_bytes(victim))
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64  # inside the column chunks; the footer stays valid
    location.write_bytes(victim, bytes(data))
    moment = dt.datetime(2026, 11, 13, 3, tzinfo=dt.UTC)
    future = Generator(lake.v2, lake.v2).event(moment, schema_version=2)
    [future_path] = write_events(location, [future], "gw-v2", "v2")

    report = load_days(location, connection, [DAY], list_event_objects(location))

    assert set(report.quarantined) == {victim, future_path}
    assert "is not 1" in report.quarantined[future_path]
    kept = [e for e in lake.events if e["ts"].hour != 1]  # the victim held hour 01
    loaded = connection.execute("SELECT count(*) FROM raw.events").fetchall()[0][0]
    assert loaded == len(kept)
    assert location.exists(f"quarantine/{victim}") and not location.exists(victim)
    files = {row[0] for row in connection.execute("SELECT path FROM meta.lake_files").fetchall()}
    assert victim not in files and future_path not in files and len(files) == 3


def test_objects_outside_the_layout_are_quarantined(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=1)
    location.write_bytes("events/v1/notes.txt", b"hello")
    report = load_days(location, connection, [DAY], list_event_objects(location))
    assert report.quarantined == {"events/v1/notes.txt": OUTSIDE_LAYOUT}
    assert report.rows_loaded == len(lake.events)
    reasons = connection.execute("SELECT path, reason FROM meta.quarantine").fetchall()
    assert reasons == [("events/v1/notes.txt", OUTSIDE_LAYOUT)]
