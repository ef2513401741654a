"""Crash and shutdown of a real writer process: kill -9 loses nothing acknowledged, SIGTERM flushes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.storage import LakeLocation

EMITTER = Path(__file__).with_name("emitter.py")
REPO = Path(__file__).resolve().parents[3]


def start_emitter(lake: Path, spool: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EMITTER), str(lake), str(spool), "gw-child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def lake_event_ids(lake: Path) -> set[str]:
    location = LakeLocation.parse(str(lake))
    if not location.list_files("events/v1"):
        return set()
    dataset = ds.dataset(location.path("events/v1"), format="parquet", partitioning="hive")
    return set(dataset.to_table(columns=["event_id"]).column("event_id").to_pylist())


def test_kill_9_loses_no_acknowledged_event(tmp_path: Path) -> None:
    replays = []
    for attempt in range(3):  # a kill just after an upload leaves nothing to replay: crash again
        replays.append(crash_and_recover(tmp_path / f"crash{attempt}"))
        if replays[-1] > 0:
            break
    assert replays[-1] > 0, f"no crash left events to replay in {len(replays)} tries"


def crash_and_recover(folder: Path) -> int:
    """kill -9 a writer that acknowledged 20,000 events; a new writer on its spool must bring every
    acknowledged event to the lake. Returns how many it replayed."""
    lake, spool = folder / "lake", folder / "spool"
    child = start_emitter(lake, spool, "kill")
    acknowledged = 0
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 30
        while acknowledged < 20_000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line.startswith("durable "), (line, child.stderr.read() if child.poll() else "")
            acknowledged = int(line.split()[1])
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert acknowledged >= 20_000

    survivor = LakeWriter(str(lake), "gw-child", spool_dir=spool).start()
    assert survivor.close(timeout=30)
    stats = survivor.stats()
    assert stats["written"] == stats["replayed"]
    in_lake = lake_event_ids(lake)
    missing = {f"e{i:09d}" for i in range(acknowledged)} - in_lake
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert acknowledged <= len(in_lake)
    assert not list((spool / "segments").iterdir())
    return int(stats["replayed"])


def test_sigterm_flushes_everything_before_exit(tmp_path: Path) -> None:
    lake, spool = tmp_path / "lake", tmp_path / "spool"
    child = start_emitter(lake, spool, "sigterm", "5000")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "emitted 5000"
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)
    assert child.returncode == 128 + signal.SIGTERM, stderr
    assert lake_event_ids(lake) == {f"e{i:09d}" for i in range(5000)}
    assert not list((spool / "segments").iterdir()), "nothing left for a replay"
