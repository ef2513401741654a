"""The lake writer on a local lake: layout, readers, rotation, quarantine, spool ownership."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway_shim.telemetry.backoff import backoff_delay
from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.spool import SpoolLocked
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.telemetry.events import BASE_TS, HOUR_US, make_event
from tests.helpers import wait_until

WriterFactory = Callable[..., LakeWriter]


@pytest.fixture
def lake(tmp_path: Path) -> LakeLocation:
    return LakeLocation.parse(str(tmp_path / "lake"))


@pytest.fixture
def new_writer(lake: LakeLocation, tmp_path: Path) -> Iterator[WriterFactory]:
    writers: list[LakeWriter] = []

    def build(**settings: Any) -> LakeWriter:
        writer = LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool", **settings)
        writers.append(writer.start())
        return writer

    yield build
    for writer in writers:
        writer.close(timeout=10)


def event_files(lake: LakeLocation) -> list[str]:
    return [info.path for info in lake.list_files("events/v1")]


def test_events_read_back_with_duckdb_and_polars(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer()
    events = [make_event(i, BASE_TS + i * (3 * HOUR_US // 300)) for i in range(300)]
    for event in events:
        writer.emit(event)
    assert writer.flush(timeout=10)
    stats = writer.stats()
    assert (stats["accepted"], stats["durable"], stats["written"], stats["backlog"]) == (300, 300, 300, 0)
    assert stats["files_written"] == 3 and stats["dropped"] == 0

    glob = lake.path("events/v1/*/*/*.parquet")
    rows = duckdb.sql(
        "SELECT dt, hour, count(*) AS n, count(DISTINCT event_id) AS ids "
        "FROM read_parquet($glob, hive_partitioning = true) GROUP BY ALL ORDER BY ALL",
        params={"glob": glob},
    ).fetchall()
    assert [(str(day), int(hour), n, ids) for day, hour, n, ids in rows] == [
        ("2026-11-30", 0, 100, 100),
        ("2026-11-30", 1, 100, 100),
        ("2026-11-30", 2, 100, 100),
    ]
    frame = pl.scan_parquet(lake.path("events/v1/**/*.parquet"), hive_partitioning=True).collect()
    assert frame.height == 300 and {"dt", "hour"} <= set(frame.columns)
    row = frame.filter(pl.col("event_id") == "evt-00000007").row(0, named=True)
    assert row["guardrail_actions"] == ["pii_redacted:email"]
    assert row["input_tokens"] == events[7]["input_tokens"] and row["streamed"] is False
    assert pq.read_metadata(event_files(lake)[0]).row_group(0).column(0).compression == "ZSTD"


def test_rotation_by_rows_cuts_exact_files(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer(max_rows=100)
    for i in range(1000):
        writer.emit(make_event(i))
    assert writer.flush(timeout=10)
    sizes = [pq.read_metadata(path).num_rows for path in event_files(lake)]
    assert sizes == [100] * 10


def test_rotation_by_bytes(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer(max_bytes=40_000)
    for i in range(1000):
        writer.emit(make_event(i))
    assert writer.flush(timeout=10)
    sizes = [pq.read_metadata(path).num_rows for path in event_files(lake)]
    assert sum(sizes) == 1000 and len(sizes) >= 5 and max(sizes) < 300


def test_rotation_by_age_without_flush(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer(max_age_s=0.2)
    for i in range(10):
        writer.emit(make_event(i))
    assert wait_until(lambda: writer.stats()["written"] == 10, timeout=10)
    assert len(event_files(lake)) == 1


def test_files_are_never_rewritten_or_appended(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer()
    writer.emit(make_event(1))
    assert writer.flush(timeout=10)
    (first,) = event_files(lake)
    before = Path(first).stat()
    writer.emit(make_event(2))
    assert writer.flush(timeout=10)
    files = event_files(lake)
    assert len(files) == 2 and first in files
    after = Path(first).stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_malformed_events_are_quarantined_not_lost(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer()
    writer.emit(make_event(1))
    writer.emit(make_event(2, status_code="teapot"))
    assert writer.flush(timeout=10)
    stats = writer.stats()
    assert (stats["written"], stats["invalid"], stats["dropped"]) == (1, 1, 0)
    (quarantined,) = lake.list_files("quarantine/writer")
    (line,) = lake.read_bytes(quarantined.path.removeprefix(lake.root + "/")).splitlines()
    record = orjson.loads(line)
    assert record["event"]["event_id"] == "evt-00000002" and "int" in record["reason"]


def test_emit_after_close_is_counted(new_writer: WriterFactory) -> None:
    writer = new_writer()
    writer.emit(make_event(1))
    assert writer.close(timeout=10)
    writer.emit(make_event(2))
    stats = writer.stats()
    assert (stats["written"], stats["dropped"]) == (1, 1)


def test_one_writer_per_spool(lake: LakeLocation, new_writer: WriterFactory, tmp_path: Path) -> None:
    new_writer()
    with pytest.raises(SpoolLocked):
        LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool").start()


def test_gateway_id_must_be_usable_in_file_names(lake: LakeLocation) -> None:
    with pytest.raises(ValueError, match="gateway_id"):
        LakeWriter(lake, "gw/1")


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    rng = random.Random(7)
    delays = [[backoff_delay(n, 0.25, 15.0, rng) for _ in range(200)] for n in (1, 3, 10)]
    assert max(delays[0]) <= 0.25 and max(delays[1]) <= 1.0 and max(delays[2]) <= 15.0
    assert max(delays[2]) > 10.0 and min(delays[2]) < 5.0


def test_a_stuck_spooler_never_grows_memory_without_bound(lake: LakeLocation, tmp_path: Path) -> None:
    writer = LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool", max_pending=10)
    for i in range(15):  # not started: nothing drains the pending list
        writer.emit(make_event(i, BASE_TS + i))
    assert (writer.stats()["accepted"], writer.stats()["dropped"]) == (10, 5)
    assert writer.close(timeout=10)  # starts, drains what it accepted, records the gap
    stats = writer.stats()
    assert (stats["written"], stats["dropped"], stats["gaps_recorded"]) == (10, 5, 1)
    (gap_file,) = lake.list_files("gaps")
    gap = orjson.loads(Path(gap_file.path).read_bytes())
    assert gap["dropped_events"] == 5 and gap["reason"] == "pending_full"
    assert gap["first_ts"] == "2026-11-30T00:00:00.000010+00:00"


def test_a_spool_segment_of_another_schema_is_quarantined_not_retried(
    lake: LakeLocation, tmp_path: Path
) -> None:
    segments = tmp_path / "spool" / "segments"
    segments.mkdir(parents=True)
    foreign = pa.table({"event_id": ["a", "b", "c"]})
    with pa.ipc.new_stream(str(segments / "000000000000-old.arrows"), foreign.schema) as stream:
        stream.write_table(foreign)
    writer = LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool").start()
    writer.emit(make_event(1))
    assert writer.close(timeout=10)
    stats = writer.stats()
    assert (stats["replayed"], stats["invalid"], stats["written"]) == (3, 3, 1)
    (kept,) = lake.list_files("quarantine/writer")
    assert kept.base_name == "gw-test-000000000000-old.arrows"
    assert pa.ipc.open_stream(kept.path).read_all().equals(foreign)


def test_emit_from_many_threads(lake: LakeLocation, new_writer: WriterFactory) -> None:
    writer = new_writer(max_rows=3000)

    def emit_many(offset: int) -> None:
        for i in range(offset, offset + 5000):
            writer.emit(make_event(i, BASE_TS + i))

    threads = [threading.Thread(target=emit_many, args=(k * 5000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert writer.flush(timeout=30)
    ids = duckdb.sql(
        "SELECT count(*), count(DISTINCT event_id) FROM read_parquet($glob)",
        params={"glob": lake.path("events/v1/*/*/*.parquet")},
    ).fetchall()
    assert ids == [(20_000, 20_000)] and writer.stats()["written"] == 20_000
