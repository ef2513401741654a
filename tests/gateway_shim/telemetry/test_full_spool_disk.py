"""A full spool disk: events are reported lost (never silently), counted, and written as a gap
record with their estimated cost once space returns; no temp or empty files are left behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.telemetry.events import make_event
from tests.gateway_shim.telemetry.tiny_disk import fill, temp_files, tiny_disk


def _wait(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_full_spool_disk_drops_are_reported_counted_and_recorded_with_cost(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    with tiny_disk(tmp_path / "disk") as disk:
        writer = LakeWriter(lake, "gw-full", spool_dir=disk / "spool").start()
        reports: list[tuple[int, tuple[int, ...]]] = []
        lock = threading.Lock()

        def listen(last: int, lost: tuple[int, ...]) -> None:
            with lock:
                reports.append((last, lost))

        writer.commits.subscribe(listen)
        try:
            before = [writer.emit(make_event(i, estimated_cost_usd=0.01)) for i in range(5)]
            writer.commit_soon()
            assert _wait(lambda: writer.commits.committed_seq >= before[-1])
            assert writer.flush(timeout=10)  # nothing left in the spool whose upload would free space
            filler = fill(disk)
            dropped = [writer.emit(make_event(100 + i, estimated_cost_usd=0.25)) for i in range(400)]
            for _ in range(40):  # many cycles on the full disk: each one must clean up after itself
                writer.commit_soon()
                time.sleep(0.005)
            assert _wait(lambda: writer.commits.committed_seq >= dropped[-1])
            with lock:
                lost = {seq for _, seqs in reports for seq in seqs}
            assert set(dropped) <= lost, "events lost to a full disk must be reported lost"
            assert not set(before) & lost
            assert writer.stats()["dropped"] >= len(dropped)
            assert writer.commits.failing
            assert temp_files(disk) == [], "no temp or empty files may be left on the full disk"

            filler.unlink()
            after = [writer.emit(make_event(1000 + i, estimated_cost_usd=0.01)) for i in range(5)]
            writer.commit_soon()
            assert _wait(lambda: writer.commits.committed_seq >= after[-1] and not writer.commits.failing)
            assert writer.flush(timeout=10)
        finally:
            writer.close(timeout=10)
        assert temp_files(disk) == []
    gaps = [orjson.loads(lake.read_bytes(info.path)) for info in lake.list_objects("gaps")]
    assert sum(g["dropped_events"] for g in gaps) == writer.stats()["dropped"]
    assert sum(g["estimated_cost_usd"] for g in gaps) >= 400 * 0.25 - 1e-6
    assert all(not g["open"] for g in gaps)
