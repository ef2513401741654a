"""``aigw loadtest NAME --web``: Locust's UI on the playbook, startable from the form, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for_port

pytestmark = pytest.mark.slow


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_web_ui_starts_with_the_playbooks_users_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from aigw.cli import main; main()", "loadtest", "steady", "--web",
             "--web-port", str(port), "--lake", str(tmp_path / "lake"), "--workdir", str(tmp_path / "work")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"},
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
        form = urllib.parse.urlencode({"user_count": 12, "spawn_rate": 12}).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/swarm", data=form, timeout=10) as started:
            assert json.loads(started.read())["success"] is True
        time.sleep(2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=10) as stats:
            assert json.loads(stats.read())["user_count"] > 0
        assert "Locust UI: http://127.0.0.1:" in log.read_text()
    finally:
        os.kill(process.pid, signal.SIGTERM)  # the command alone: it must stop what it started
        code = process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = group_alive(process.pid)
    if leftover:
        os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    assert not leftover, f"Locust, the gateway or the provider outlived the command:\n{output}"
    assert code == 0 and "Traceback" not in output, output
