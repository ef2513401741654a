"""The core benchmark still runs against the current schema (its floor once lagged the v2 columns and
failed its own check). A smoke run: tiny sizes, no timing asserted."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_benchmark_runs_every_scenario() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "core.py"), "--requests", "1000",
                           "--repeats", "1"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("floor:", "core:"))]
    assert len(rows) == 6, done.stdout
    assert all(float(line.split()[-3]) > 0 for line in rows), done.stdout
