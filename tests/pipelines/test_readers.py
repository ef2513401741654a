"""Readers are never blocked: another process queries in a loop while runs rebuild and publish."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import add_late_events, small_lake

# Each query checks a cross-table invariant: a half-built warehouse would break it.
READER = """
import json, os, sys, time
from analytics.warehouse import connect_read_only
path, stop, out = sys.argv[1:4]
ok, problems = 0, []
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not os.path.exists(stop) and ok < 100_000:
    try:
        with connect_read_only(path) as connection:
            raw, billed = connection.sql(
                "SELECT (SELECT count(*) FROM raw.events), (SELECT sum(requests) FROM marts.cost_daily)"
            ).fetchall()[0]
        if raw != billed:
            problems.append(f"half-built: {raw} raw events vs {billed} in cost_daily")
        ok += 1
    except Exception as exc:
        problems.append(repr(exc))
with open(out, "w") as handle:
    json.dump({"ok": ok, "problems": problems[:10], "errors": len(problems)}, handle)
"""


def test_queries_during_runs_never_fail_or_see_half_built_marts(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=4)
    warehouse = tmp_path / "wh.duckdb"
    assert run(lake, warehouse).success
    stop, report = tmp_path / "stop", tmp_path / "report.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), str(report)])
    try:
        time.sleep(1.0)
        for _ in range(2):
            add_late_events(lake, count=20)
            outcome = run(lake, warehouse, days=sorted({e["ts"].date() for e in lake.events}))
            assert outcome.success
    finally:
        stop.touch()
        reader.wait(timeout=60)
    result = json.loads(report.read_text())
    assert result["errors"] == 0, result["problems"]
    assert result["ok"] >= 5
