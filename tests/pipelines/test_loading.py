"""Loading days: a corrupt page behind a valid footer and rows that break the schema are quarantined
object by object while the rest of the day loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.sql_files import load_sql
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA, V2_COLUMNS
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
    start, end = _column_chunk(bytes(data), "event_id")
    middle = (start + end) // 2
    data[middle : middle + 64] = b"\xff" * 64  # inside a column chunk with data; the footer stays valid
    location.write_bytes(victim, bytes(data))
    moment = dt.datetime(2026, 11, 13, 3, tzinfo=dt.UTC)
    future = Generator(lake.v2, lake.v2).event(moment, schema_version=3)
    [future_path] = write_events(location, [future], "gw-v3", "v3")

    report = load_days(location, connection, [DAY], list_event_objects(location))

    assert set(report.quarantined) == {victim, future_path}
    assert "schema_version 3 is not one of 1, 2" in report.quarantined[future_path]
    kept = [e for e in lake.events if e["ts"].hour != 1]  # the victim held hour 01
    loaded = connection.execute("SELECT count(*) FROM raw.events").fetchall()[0][0]
    assert loaded == len(kept)
    assert location.exists(f"quarantine/{victim}") and not location.exists(victim)
    files = {row[0] for row in connection.execute("SELECT path FROM meta.lake_files").fetchall()}
    assert victim not in files and future_path not in files and len(files) == 3


def _column_chunk(data: bytes, column: str) -> tuple[int, int]:
    """Where ``column``'s chunk of the first row group lies in a Parquet file (byte offsets)."""
    row_group = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0)
    chunk = next(row_group.column(i) for i in range(row_group.num_columns)
                 if row_group.column(i).path_in_schema == column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    return start, start + chunk.total_compressed_size


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


def _rows(connection: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return connection.execute("SELECT * FROM raw.events ORDER BY event_id, source_file").fetchall()


def _reloaded(tmp_path: Path, location: LakeLocation) -> list[tuple[object, ...]]:
    """raw.events from the same lake loaded whole into a fresh file."""
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    fresh.execute("SET TimeZone = 'UTC'")
    fresh.execute(load_sql("schema"))
    load_days(location, fresh, [DAY, DAY + dt.timedelta(days=1)], list_event_objects(location), force=True)
    return _rows(fresh)


def test_a_day_that_only_gained_objects_gets_them_appended_with_the_rows_of_a_reload(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=2)
    load_days(location, connection, [DAY, DAY + dt.timedelta(days=1)], list_event_objects(location))
    generator = Generator(lake.v2, lake.v2)
    new = [generator.event(dt.datetime(2026, 11, 13, 5, i, tzinfo=dt.UTC)) for i in range(20)]
    write_events(location, new + new[:3], "gw-b", "new")  # three ids twice inside the new object
    messages: list[str] = []

    report = load_days(location, connection, [DAY], list_event_objects(location), log=messages.append)

    assert report.days_loaded == [DAY] and report.rows_loaded == 20 and report.duplicates_dropped == 3
    assert any("rows appended" in m for m in messages)
    assert _rows(connection) == _reloaded(tmp_path, location)


def test_a_new_object_repeating_a_loaded_id_reloads_the_day_keeping_the_first_copy_by_path(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=1)
    load_days(location, connection, [DAY], list_event_objects(location))
    repeated = lake.events[0]
    [path] = write_events(location, [repeated], "gw-0", "retry")  # sorts before the gw-a objects
    messages: list[str] = []

    report = load_days(location, connection, [DAY], list_event_objects(location), log=messages.append)

    assert report.rows_loaded == len(lake.events) and report.duplicates_dropped == 1
    assert any("reloading whole" in m for m in messages)
    (source,) = connection.execute(
        "SELECT source_file FROM raw.events WHERE event_id = $id", {"id": repeated["event_id"]}
    ).fetchall()[0]
    assert source == path
    assert _rows(connection) == _reloaded(tmp_path, location)


def _write_v1_object(location: LakeLocation, events: list[dict[str, object]], path: str,
                     dropped: frozenset[str] = V2_COLUMNS) -> None:
    """An object exactly as an older gateway wrote it: without the ``dropped`` columns (schema v1's
    columns only by default)."""
    table = pa.Table.from_pylist([{c: e.get(c) for c in EVENT_COLUMNS} for e in events], schema=EVENT_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table.drop_columns(sorted(dropped)), sink, compression="zstd")
    location.write_bytes(path, sink.getvalue().to_pybytes())


@pytest.mark.parametrize("with_v2", [False, True], ids=["v1-only", "v1-and-v2"])
def test_schema_v1_objects_load_beside_v2_ones_with_the_new_columns_null_and_operation_chat(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection, with_v2: bool
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=1)
    generator = Generator(lake.v2, lake.v2)
    old = [generator.event(dt.datetime(2026, 11, 13, 6, i, tzinfo=dt.UTC)) for i in range(5)]
    _write_v1_object(location, old, "events/v1/dt=2026-11-13/hour=06/gw-old-20261113T060000Z-v1.parquet")
    new = [
        generator.event(dt.datetime(2026, 11, 13, 7, i, tzinfo=dt.UTC), schema_version=2, operation="chat",
                        cache_read_tokens=64 + i, cache_write_tokens=0, reasoning_tokens=10, tool_calls=i,
                        modalities=["image", "text"], input_images=i + 1)
        for i in range(4)
    ] if with_v2 else []
    if new:
        write_events(location, new, "gw-new", "v2")

    report = load_days(location, connection, [DAY], list_event_objects(location))

    assert report.quarantined == {}
    assert report.rows_loaded == len(lake.events) + len(old) + len(new)
    columns = ("operation, cache_read_tokens, cache_write_tokens, reasoning_tokens, tool_calls, modalities,"
               " input_images")
    by_id = {row[0]: row[1:] for row in connection.execute(
        f"SELECT event_id, {columns} FROM raw.events").fetchall()}
    assert {by_id[e["event_id"]] for e in old} == {("chat", None, None, None, None, None, None)}
    assert [by_id[e["event_id"]] for e in new] == [
        ("chat", 64 + i, 0, 10, i, ["image", "text"], i + 1) for i in range(len(new))]


def test_a_v2_object_written_before_input_images_loads_with_it_null(
    tmp_path: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    location = LakeLocation.parse(str(tmp_path / "lake"))
    lake = small_lake(location, tmp_path, days=1)
    generator = Generator(lake.v2, lake.v2)
    early = [generator.event(dt.datetime(2026, 11, 13, 6, i, tzinfo=dt.UTC), schema_version=2,
                             operation="chat", tool_calls=i, modalities=["image", "text"]) for i in range(3)]
    _write_v1_object(location, early, "events/v1/dt=2026-11-13/hour=06/gw-early-20261113T060000Z-v2.parquet",
                     frozenset({"input_images"}))

    report = load_days(location, connection, [DAY], list_event_objects(location))

    assert report.quarantined == {} and report.rows_loaded == len(lake.events) + len(early)
    ids = [e["event_id"] for e in early]
    rows = connection.execute(
        "SELECT tool_calls, modalities, input_images FROM raw.events"
        " WHERE list_contains($ids, event_id) ORDER BY tool_calls", {"ids": ids}).fetchall()
    assert rows == [(i, ["image", "text"], None) for i in range(3)]


def test_a_warehouse_built_before_schema_v2_gains_its_columns(tmp_path: Path) -> None:
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute(load_sql("schema"))
    for column in sorted(V2_COLUMNS):  # raw.events as schema.sql created it before v2
        old.execute(f"ALTER TABLE raw.events DROP COLUMN {column}")
    old.execute("INSERT INTO raw.events (dt, event_id, ts) VALUES ('2026-11-13', 'e-1', '2026-11-13 01:00')")
    old.execute(load_sql("schema"))
    columns = [row[0] for row in old.execute("DESCRIBE raw.events").fetchall()]
    assert columns[-8:] == ["operation", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
                            "tool_calls", "modalities", "state_degraded", "input_images"]
    assert old.execute("SELECT event_id, operation FROM raw.events").fetchall() == [("e-1", None)]
