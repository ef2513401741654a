"""Rebuild the README's screenshot of the Monthly review page from the real app on the demo's data.

    .venv/bin/python scripts/review_screenshot.py [--out docs/img/review.png] [--width 1280] [--keep]

In a new temporary folder: `aigw demo --no-dashboard` (a baseline month, last month, this month so far,
a brief run of each load-test playbook, the warehouse), `aigw dashboard` on a free loopback port, then a
screenshot of the page a reader lands on (the review of the last complete month). Every process it
starts is stopped again. A playbook that fails is reported, not hidden: the screenshot is still saved
(it shows the failed verdict) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dashboards.screenshot import PageException, chromium, save_screenshot
from loadtests.playbooks import PLAYBOOKS

AIGW = [str(Path(sys.executable).with_name("aigw"))]
"""The console script, not `python -m aigw`: that would put the work folder first on sys.path."""
HOST = "127.0.0.1"
DEMO_PATHS = {"AIGW_LAKE": ".aigw/lake", "AIGW_WAREHOUSE": ".aigw/warehouse.duckdb"}
"""The demo's own defaults, relative to the work folder every command runs in."""
LOADTEST_MONTH = "SELECT strftime(max(started_at), '%Y-%m'), count(*) FROM marts.loadtest_runs"


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run(argv: list[str], log: Path, env: dict[str, str], cwd: Path, timeout: float) -> int:
    """Run one command in its own process group (its output in ``log``); the group is killed if this
    script is interrupted or the command outlives ``timeout``, so no gateway or provider is left behind."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process)
        raise SystemExit(f"{' '.join(argv[1:])} took longer than {timeout:.0f} s; log: {log}") from None
    except BaseException:
        stop_group(process)
        raise


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def dashboard(env: dict[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """`aigw dashboard` on a free loopback port until the block ends; yields its URL once healthy."""
    port = free_port()
    argv = [*AIGW, "dashboard", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not healthy(f"http://{HOST}:{port}/_stcore/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dashboard did not come up on port {port}:\n{log_tail(log)}")
            time.sleep(0.5)
        yield f"http://{HOST}:{port}/"
    finally:
        stop_group(process)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def step(name: str, argv: list[str], work: Path, env: dict[str, str], timeout: float) -> int:
    """One `aigw` command with its log in ``work/logs``; prints its exit status and time."""
    log = work / "logs" / f"{'-'.join(name.split())}.log"
    started = time.monotonic()
    code = run(argv, log, env, work, timeout)
    print(f"  {name:<24} exit {code}  {time.monotonic() - started:6.1f} s   log {log}", flush=True)
    return code


def build(work: Path, env: dict[str, str]) -> list[str]:
    """The demo, load tests included; returns the playbooks that did not pass (from its output)."""
    if step("demo", [*AIGW, "demo", "--no-dashboard"], work, env, timeout=3600):
        raise SystemExit(f"aigw demo failed:\n{log_tail(work / 'logs' / 'demo.log')}")
    output = (work / "logs" / "demo.log").read_text(errors="replace").splitlines()
    names = tuple(f"{name}: " for name in PLAYBOOKS)
    verdicts = [line.strip() for line in output if line.strip().startswith(names)]
    if len(verdicts) != len(PLAYBOOKS):
        raise SystemExit(f"aigw demo ran {len(verdicts)} of {len(PLAYBOOKS)} playbooks; log {work / 'logs'}")
    return [line.split(":")[0] for line in verdicts if ": PASS" not in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/img/review.png"))
    parser.add_argument("--width", type=int, default=1280, help="Browser width in px.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (lake, logs).")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aigw-demo-"))
    (work / "logs").mkdir()
    env = dict(os.environ, **DEMO_PATHS)
    started = time.monotonic()
    print(f"review screenshot: working in {work}", flush=True)
    failed = ["(unfinished)"]
    try:
        failed = build(work, env)
        with dashboard(env, work, work / "logs" / "dashboard.log") as url, chromium() as browser:
            save_screenshot(browser, url, "Monthly review", args.out.resolve(), width=args.width)
        print(f"  screenshot               {url} -> {args.out}")
    except PageException as error:
        failed = [str(error)]
    finally:
        if failed or args.keep:
            print(f"kept {work} (logs, lake, warehouse)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f} s")
    if failed:
        print(f"did not pass: {', '.join(failed)} -- the screenshot shows what happened; do not hide it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
