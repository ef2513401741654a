"""``LakeWriter.emit_many``: the bulk path for producers that hold many events (the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.writer import LakeWriter
from tests.gateway_shim.telemetry.events import BASE_TS, HOUR_US, make_event


@pytest.fixture
def lakes(tmp_path: Path) -> Iterator[tuple[LakeLocation, LakeLocation]]:
    yield LakeLocation.parse(str(tmp_path / "one")), LakeLocation.parse(str(tmp_path / "many"))


def read_lake(lake: LakeLocation) -> pa.Table:
    table = ds.dataset(lake.path("events/v1"), filesystem=lake.filesystem, partitioning="hive").to_table()
    return table.sort_by("event_id")


def events(count: int) -> list[dict[str, object]]:
    """Spread over three hours and out of time order, as a busy gateway's completions are."""
    return [make_event(i, BASE_TS + (i * 7919 % count) * (3 * HOUR_US // count)) for i in range(count)]


def test_emit_many_writes_what_emit_writes(lakes: tuple[LakeLocation, LakeLocation], tmp_path: Path) -> None:
    one_lake, many_lake = lakes
    with LakeWriter(one_lake, "gw-test", spool_dir=tmp_path / "spool-one") as one:
        for event in events(3000):
            one.emit(event)
    batch = events(3000)
    with LakeWriter(many_lake, "gw-test", spool_dir=tmp_path / "spool-many") as many:
        many.emit_many(batch[:1000])
        for event in batch[1000:1500]:
            many.emit(event)
        many.emit_many(batch[1500:])
        many.emit_many([])
    assert one.stats()["written"] == many.stats()["written"] == 3000
    assert many.stats()["accepted"] == 3000 and many.stats()["files_written"] == 3
    assert read_lake(many_lake).equals(read_lake(one_lake))
    files = many_lake.list_files("events/v1")
    names = sorted(info.path.split("/events/v1/")[1].rsplit("/", 1)[0] for info in files)
    assert names == [f"dt=2026-11-30/hour={hour:02d}" for hour in range(3)]


def test_emit_many_quarantines_only_the_malformed_event(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    batch = [make_event(i) for i in range(10)]
    batch[4]["input_tokens"] = "many"
    with LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool") as writer:
        writer.emit_many(batch)
    stats = writer.stats()
    assert (stats["accepted"], stats["written"], stats["invalid"], stats["dropped"]) == (10, 9, 1, 0)
    (quarantined,) = lake.list_files("quarantine/writer")
    (line,) = Path(quarantined.path).read_bytes().splitlines()
    assert orjson.loads(line)["event"]["event_id"] == "evt-00000004"


def test_a_batch_beyond_max_pending_is_refused_whole_and_recorded(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    writer = LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool", max_pending=10)
    writer.emit_many([make_event(i, BASE_TS + i) for i in range(8)])  # not started: nothing drains
    writer.emit_many([make_event(i, BASE_TS + i) for i in range(8, 13)])
    writer.emit(make_event(13, BASE_TS + 13))
    assert (writer.stats()["accepted"], writer.stats()["dropped"], writer.stats()["backlog"]) == (9, 5, 9)
    assert writer.close(timeout=10)
    stats = writer.stats()
    assert (stats["written"], stats["dropped"], stats["gaps_recorded"]) == (9, 5, 1)
    (gap_file,) = lake.list_files("gaps")
    gap = orjson.loads(Path(gap_file.path).read_bytes())
    assert (gap["dropped_events"], gap["reason"]) == (5, "pending_full")
    assert (gap["first_ts"], gap["last_ts"]) == (
        "2026-11-30T00:00:00.000008+00:00",
        "2026-11-30T00:00:00.000012+00:00",
    )


def test_emit_many_after_close_is_counted(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    writer = LakeWriter(lake, "gw-test", spool_dir=tmp_path / "spool").start()
    writer.emit_many([make_event(1)])
    assert writer.close(timeout=10)
    writer.emit_many([make_event(2), make_event(3)])
    stats = writer.stats()
    assert (stats["written"], stats["dropped"]) == (1, 2)
