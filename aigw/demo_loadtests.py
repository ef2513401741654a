"""The demo's brief load tests: every playbook once, all at once, so the review's load-test panel is real.

Each playbook runs as its own ``aigw loadtest NAME --duration S --lake LAKE`` process (its own provider,
gateway and Locust on free loopback ports, its report in the lake's ``loadtests/<run_id>/``), so the five
stay independent: one that fails, or cannot start, is reported as such and the others carry on. Run
together they take about as long as the longest one plus start-up (about 45 s on two cores) instead of
about two minutes one after another. Their progress lines are echoed with the playbook's name; on
SIGTERM or SIGINT (``KeyboardInterrupt``) every run gets SIGTERM and is waited for, so none leaves a
gateway or provider behind.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RUN_TIMEOUT_S = 240.0
"""A brief run that has not finished this long after its load ended is stopped and reported."""
STOP_TIMEOUT_S = 30.0
"""After SIGTERM a run stops Locust, its gateway and provider; then it is killed."""


@dataclass
class BriefRun:
    """One playbook's run: what it printed and how it ended."""

    name: str
    seconds: float
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def verdict_line(self) -> str | None:
        """'steady: PASS  100 requests at 8.2 req/s, ...' as ``aigw loadtest`` prints it."""
        return next((line for line in self.lines if line.startswith((f"{self.name}: PASS",
                                                                      f"{self.name}: FAIL"))), None)

    @property
    def run_id(self) -> str | None:
        return next((line.split()[1] for line in self.lines if line.startswith("run lt-")), None)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.verdict_line is not None

    def outcome(self) -> str:
        """One line for the demo's output: the verdict, the failed criteria, or why there is no verdict."""
        failed = next((line for line in self.lines if line.startswith("failed: ")), None)
        if self.verdict_line is not None:
            return self.verdict_line + (f" ({failed})" if failed else "")
        last = next((line.strip() for line in reversed(self.lines) if line.strip()), "no output")
        return f"{self.name}: FAIL  no verdict (exit {self.exit_code}): {last}"


def aigw_argv() -> list[str]:
    """The installed console script beside this Python (``python -m aigw`` would put the current folder
    first on ``sys.path``)."""
    script = Path(sys.executable).with_name("aigw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aigw"]


def loadtest_argv(name: str, seconds: float, lake_url: str) -> list[str]:
    return [*aigw_argv(), "loadtest", name, "--duration", f"{seconds:g}", "--lake", lake_url]


def run_brief_loadtests(lake_url: str, echo: Callable[[str], None],
                        plan: Sequence[tuple[str, float]]) -> list[BriefRun]:
    """Run every ``(playbook, seconds)`` of ``plan`` at once against ``lake_url``; echo their progress and
    return each run's outcome. ``KeyboardInterrupt`` stops them all and propagates."""
    lock = threading.Lock()
    runs = [BriefRun(name, seconds) for name, seconds in plan]
    width = max(len(run.name) for run in runs)

    def say(line: str) -> None:
        with lock:
            echo(line)

    processes: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []
    try:
        for run in runs:
            # Its own session: a terminal's Ctrl-C reaches the demo, which sends each run one SIGTERM.
            process = subprocess.Popen(loadtest_argv(run.name, run.seconds, lake_url), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                       start_new_session=True)
            processes.append(process)
            reader = threading.Thread(target=_follow, args=(process, run, width, say), daemon=True)
            reader.start()
            readers.append(reader)
        deadline = time.monotonic() + max(run.seconds for run in runs) + RUN_TIMEOUT_S
        for run, process, reader in zip(runs, processes, readers, strict=True):
            try:
                run.exit_code = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _stop([process])
                run.exit_code = process.returncode
                run.lines.append(f"stopped: no verdict {RUN_TIMEOUT_S:g} s after its load ended")
            reader.join(timeout=5)
    except BaseException:
        _stop(processes)
        raise
    return runs


def _follow(process: subprocess.Popen[str], run: BriefRun, width: int, say: Callable[[str], None]) -> None:
    """Keep every line the run prints; echo its progress lines ('  10 s of about 20 s, 88 requests')."""
    assert process.stdout is not None
    with process.stdout:  # closed once the run has printed everything
        for raw in process.stdout:
            line = raw.rstrip("\n")
            run.lines.append(line)
            if " s of about " in line:
                say(f"  {run.name:<{width}}  {line.strip()}")


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    """SIGTERM to every run still going, then wait for each (each stops its Locust, gateway and provider)."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in running:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
