"""Readers are never blocked: another process queries in a loop while runs rebuild and publish.

The reader reports when each query started and ended, so the test proves the queries overlapped the
rebuilds instead of hoping a fixed sleep lined them up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from gateway_shim.telemetry.storage import LakeLocation
from tests.helpers import wait_until
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import add_late_events, small_lake

# Each query checks a cross-table invariant: a half-built warehouse would break it.
READER = """
import json, os, sys, time
from analytics.warehouse import connect_read_only
path, stop, ready, out = sys.argv[1:5]
queries, problems = [], []
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not os.path.exists(stop) and len(queries) < 100_000:
    started = time.monotonic()
    try:
        with connect_read_only(path) as connection:
            raw, billed = connection.sql(
                "SELECT (SELECT count(*) FROM raw.events), (SELECT sum(requests) FROM marts.cost_daily)"
            ).fetchall()[0]
        if raw != billed:
            problems.append(f"half-built: {raw} raw events vs {billed} in cost_daily")
        queries.append((started, time.monotonic()))
        if len(queries) == 1:
            open(ready, "w").close()
    except Exception as exc:
        problems.append(repr(exc))
with open(out, "w") as handle:
    json.dump({"queries": queries, "problems": problems[:10], "errors": len(problems)}, handle)
"""


def test_queries_during_runs_never_fail_or_see_half_built_marts(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=4)
    warehouse = tmp_path / "wh.duckdb"
    assert run(lake, warehouse).success
    stop, ready, report = tmp_path / "stop", tmp_path / "ready", tmp_path / "report.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, *map(str, (warehouse, stop, ready, report))])
    rebuilds: list[tuple[float, float]] = []
    try:
        assert wait_until(lambda: ready.exists() or reader.poll() is not None, timeout=60)
        assert ready.exists(), "the reader exited before its first query"
        for _ in range(2):
            add_late_events(lake, count=20)
            started = time.monotonic()
            outcome = run(lake, warehouse, days=sorted({e["ts"].date() for e in lake.events}))
            rebuilds.append((started, time.monotonic()))
            assert outcome.success
    finally:
        stop.touch()
        reader.wait(timeout=60)
    result = json.loads(report.read_text())
    assert result["errors"] == 0, result["problems"]
    # time.monotonic() is one system-wide clock on Linux, so the two processes' times compare
    for begin, end in rebuilds:
        during = [q for q in result["queries"] if begin <= q[0] and q[1] <= end]
        assert len(during) >= 3, f"{len(during)} queries within the rebuild of {end - begin:.1f}s"
