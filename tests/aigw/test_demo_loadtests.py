"""The demo's brief load tests: real `aigw loadtest` runs side by side; a failed one is reported, never
fatal; SIGTERM to the demo stops every run with its gateway, provider and Locust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aigw.demo_loadtests import run_brief_loadtests

pytestmark = pytest.mark.slow
AIGW = str(Path(sys.executable).with_name("aigw"))


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid`` (from /proc), with its command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    command = (Path("/proc") / str(child) / "cmdline").read_bytes()
                    found[child] = command.replace(b"\0", b" ").decode()
                except OSError:
                    continue
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_runs_side_by_side_and_a_run_without_a_verdict_is_reported(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    echoed: list[str] = []
    # fallback needs at least 8 s: this run ends at once without a verdict, as a broken playbook would
    runs = run_brief_loadtests(str(lake), echoed.append, [("steady", 11), ("fallback", 1)])
    steady, fallback = runs
    assert steady.passed and steady.exit_code == 0, steady.lines
    assert steady.outcome().startswith("steady: PASS") and steady.outcome().endswith("unexpected errors 0")
    assert steady.run_id is not None
    summary = json.loads((lake / "loadtests" / steady.run_id / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["unexpected_errors"] == 0
    assert not fallback.passed and fallback.exit_code == 2
    assert fallback.outcome().startswith("fallback: FAIL  no verdict (exit 2)")
    assert "at least 8s" in fallback.outcome()
    assert any(line.startswith("  steady") and " s of about 11 s" in line for line in echoed), echoed


@pytest.mark.timeout(300)
def test_sigterm_during_the_load_tests_stops_the_demo_and_every_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIGW_", "DAGSTER_"))}
    demo = subprocess.Popen([AIGW, "demo", "--no-dashboard", "--today", "2026-12-07", "--scale", "0.002"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any(" s of about " in line for line in lines):  # Locust is running in every playbook
            assert demo.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.5)
        started = descendants(demo.pid)
        names = " ".join(started.values())
        assert "locust" in names and "serve" in names and "provider" in names, names
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=90) == 130
    finally:
        if demo.poll() is None:
            demo.kill()
    reader.join(timeout=10)
    if demo.stdout is not None:
        demo.stdout.close()
    output = "".join(lines)
    assert "aigw demo: stopped" in output and "Traceback" not in output, output
    left = [command for pid, command in started.items() if alive(pid)]
    assert not left, left
    assert "[3/4] pipelines" not in output
