"""``aigw loadtest NAME --web``: Locust's own web UI on a playbook, for exploring by hand.

The same provider, gateway and playbook config as a headless run, started the same way; Locust opens
its UI with the playbook's users, spawn rate and run time filled in (the saturation playbook's load
shape sets the users itself). Nothing is judged: the verdict belongs to the headless run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from gateway_shim.telemetry.storage import LakeLocation
from loadtests.harness import HOST, RunOptions, launch_local, new_run_id


def run_web(options: RunOptions, echo: Callable[[str], None]) -> int:
    """Start provider, gateway and Locust's UI; return Locust's exit status once it stops (Ctrl-C, or
    SIGTERM raised as ``KeyboardInterrupt`` by the command): every process started here is stopped."""
    assert options.web_port is not None
    playbook = options.playbook
    run_id = new_run_id(playbook.name)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix=f"aigw-loadtest-{playbook.name}-web-"))
    (workdir / "locust").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIGW_SPOOL": str(workdir / "spool"), "PYTHONUNBUFFERED": "1"}
    logs = {"locust": workdir / "locust" / "locust.log"}
    with ExitStack() as stack:
        launched, locust = launch_local(stack, options, run_id, LakeLocation.parse(options.lake_url), workdir,
                                        env, logs)
        echo(f"Locust UI: http://{HOST}:{options.web_port}  (gateway {launched.hosts[0]}, provider "
             f"{launched.provider_url}, run {run_id}; logs in {workdir}). Ctrl-C stops everything.")
        return locust.wait()
