"""The simulator's lake sink on a real lake folder: one file per hour, nothing lost, idempotent."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from gateway_shim.simulate.lake_sink import LakeSink
from gateway_shim.simulate.run import Options, prepare, run, simulate_into
from gateway_shim.telemetry.storage import LakeLocation

START = dt.date(2026, 11, 2)


def hour_files(lake: Path) -> Counter[str]:
    return Counter(str(f.parent.relative_to(lake)) for f in (lake / "events" / "v1").rglob("*.parquet"))


def test_every_hour_is_one_file_and_every_event_is_written(tmp_path: Path) -> None:
    """Writing every few hundred events forces many chunks: hours still in flight are held back."""
    prepared = prepare(Options(days=1, start=START, seed=5, scale=0.05))
    expected: list[str] = []
    simulate_into(prepared, lambda event: expected.append(event["event_id"]))

    lake = tmp_path / "lake"
    sink = LakeSink(LakeLocation.parse(str(lake)), "sim", "test", write_at_rows=300)
    stats = simulate_into(prepare(Options(days=1, start=START, seed=5, scale=0.05)), sink.emit,
                          lambda hours, events: sink.on_hour())
    sink.close()

    assert stats.events == len(expected) == sink.written
    files = hour_files(lake)
    assert len(files) == 24 and set(files.values()) == {1}
    assert sink.files_written == 24
    table = ds.dataset(lake / "events" / "v1", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("event_id").to_pylist()) == sorted(expected)
    hours = table.column("hour").to_pylist()
    stamps = [ts.hour for ts in table.column("ts").to_pylist()]
    assert [int(h) for h in hours] == stamps


def test_running_a_simulation_again_overwrites_its_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    options = Options(days=1, start=START, seed=8, scale=0.02, lake=str(lake))
    first = run(prepare(options))
    names = sorted(p.relative_to(lake) for p in (lake / "events").rglob("*.parquet"))
    second = run(prepare(options))
    assert sorted(p.relative_to(lake) for p in (lake / "events").rglob("*.parquet")) == names
    assert first.events_written == second.events_written == first.stats.events
    rows = ds.dataset(lake / "events" / "v1", format="parquet", partitioning="hive").count_rows()
    assert rows == first.stats.events


def test_a_lake_that_cannot_be_written_fails_the_run_naming_the_object(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    (tmp_path / "lake" / "events").write_text("a file where the events folder should be")
    sink = LakeSink(lake, "sim", "test", retry_base_s=0.001)
    simulate_into(prepare(Options(days=1, start=START, seed=5, scale=0.01)), sink.emit)
    with pytest.raises(RuntimeError, match=r"could not write .*events/v1/dt=2026-11-02/hour=\d\d/sim-.*"
                                           r"\.parquet after 6 attempts"):
        sink.close()
