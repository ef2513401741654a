"""The run's events are read back from a real lake (local folder and S3 via moto) by run id."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.schema import EVENT_COLUMNS, SCHEMA_VERSION
from gateway_shim.telemetry.storage import LakeLocation
from loadtests.telemetry import read_run_events, wait_for_run_events
from tests.helpers import MotoS3Server


def event(run_id: str, n: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EVENT_COLUMNS)
    row.update(event_id=f"{run_id}-{n}", schema_version=SCHEMA_VERSION, ts=int((time.time() + n) * 1e6),
               latency_class="interactive", tenant_id="acme", status_code=200, outcome="ok",
               model_name="m", fallback_used=False, attempts=1, estimated_cost_usd=0.001, run_id=run_id,
               input_tokens=12, guardrail_actions=[])
    row.update(fields)
    return row


def fill(lake: LakeLocation, spool: Path) -> None:
    writer = LakeWriter(lake, "test-gw", spool_dir=spool).start()
    for n in range(5):
        writer.emit(event("run-a", n))
    writer.emit(event("run-a", 5, status_code=503, outcome="throttled", fallback_used=True,
                      fallback_reason="circuit_open", guardrail_actions=["degraded:budget"]))
    for n in range(3):
        writer.emit(event("run-b", n))
    writer.close(timeout=30)


def check(lake: LakeLocation) -> None:
    rows = read_run_events(lake, "run-a")
    assert len(rows) == 6
    assert [r.t for r in rows] == sorted(r.t for r in rows)
    last = rows[-1]
    assert (last.status, last.outcome, last.fallback_used, last.fallback_reason, last.degraded) == (
        503, "throttled", True, "circuit_open", True)
    assert rows[0].input_tokens == 12 and not rows[0].degraded
    assert len(read_run_events(lake, "run-b")) == 3
    assert read_run_events(lake, "run-c") == []


def test_reads_one_runs_events_from_a_local_lake(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    assert read_run_events(lake, "run-a") == []
    fill(lake, tmp_path / "spool")
    check(lake)


def test_reads_one_runs_events_from_s3(tmp_path: Path, s3_server: MotoS3Server) -> None:
    bucket = s3_server.make_bucket("loadtest-telemetry")
    lake = LakeLocation.parse(f"{bucket}/prefix", env=s3_server.env)
    fill(lake, tmp_path / "spool")
    check(lake)


def test_waiting_for_events_is_bounded(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    started = time.monotonic()
    assert wait_for_run_events(lake, "run-a", expected=1, timeout_s=0.5, poll_s=0.1) == []
    assert time.monotonic() - started < 5
