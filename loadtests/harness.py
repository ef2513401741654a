"""Run one playbook end to end: (optionally) start provider and gateway, run Locust, judge, report.

A fleet: ``replicas`` > 1 starts that many gateways sharing a private redis-server
(``state.backend: redis``) and one run lake, the lanes' capacity split between them; ``hosts`` with
several addresses judges an already-running fleet. Either way Locust deals its users to the gateways
in turn and the verdicts read every replica's events.

Locust runs as a subprocess: importing boto3 or requests before locust in one process breaks gevent
here, and gevent's patching would make the lake reads hang. Every process binds 127.0.0.1 on a free
port, every wait is bounded, and every process this module starts is stopped by its own handle.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gateway_shim.config.loader import default_config_path, load_config
from gateway_shim.config.models import Config
from gateway_shim.config.overlay import load_config_document
from gateway_shim.telemetry.layout import loadtest_run_prefix, loadtest_summary_path
from gateway_shim.telemetry.storage import LakeLocation
from loadtests.control import LOOPBACK
from loadtests.playbooks import Playbook
from loadtests.records import (
    PHASES_FILE,
    PROVIDER_STATS_FILE,
    REQUEST_LOG,
    read_locust_totals,
    read_phases,
    read_provider_samples,
    read_request_log,
)
from loadtests.run_ids import new_run_id
from loadtests.summary import build_summary
from loadtests.telemetry import read_run_events, wait_for_run_events
from loadtests.verdicts import Criterion, RunData, judge

HOST = "127.0.0.1"
REPORT_HTML = "report.html"
"""Locust's own HTML report of the run, kept beside the CSVs in ``loadtests/<run_id>/``."""
AIGW = [sys.executable, "-c", "from aigw.cli import main; main()"]
READY_TIMEOUT_S = 60.0
"""A busy machine (a test suite on two cores, coverage on) can take half a minute to import a gateway."""
FLEET_READY_TIMEOUT_S = 90.0
"""Several gateways import and start at once on the same cores; Locust waits as long for them."""
LOCUST_GRACE_S = 60.0
STOP_TIMEOUT_S = 30.0
EXTERNAL_TELEMETRY_WAIT_S = 60.0


class HarnessError(RuntimeError):
    """The harness could not run the playbook (a process did not start, Locust crashed, ...)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    playbook: Playbook
    duration_s: float
    lake_url: str
    hosts: tuple[str, ...] = ()
    """Already-running gateways (one, a load balancer, or a fleet); empty starts them for this run."""
    provider_url: str = "http://127.0.0.1:9000"
    config_path: Path | None = None
    users: int | None = None
    workdir: Path | None = None
    web_port: int | None = None
    """Locust's own web UI on this port instead of a headless run (no verdict)."""
    replicas: int = 1
    """Gateways to start (without ``hosts``); more than one share a private redis-server."""


@dataclass
class RunResult:
    run_id: str
    criteria: list[Criterion]
    summary: dict[str, Any]
    summary_path: str
    workdir: Path | None
    """Where the processes' logs are; None once removed (a passing run in a temporary folder)."""
    logs: dict[str, Path] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise HarnessError(f"{url!r}: the load-test harness only talks to loopback addresses")


def playbook_config(source: Path, provider_url: str, target: Path,
                    edit: Callable[[dict[str, Any]], None] | None = None) -> Config:
    """The playbook config (a full config, or an overlay on the demo config resolved here) with every
    simulated provider pointed at this run's provider (and ``edit`` applied), written to ``target``
    for ``aigw serve``.

    ``source`` is validated first, so a bad file is reported under its own name and line.
    """
    document, _ = load_config_document(source)
    for provider in (document.get("providers") or {}).values():
        if isinstance(provider, dict) and provider.get("kind") == "simulated":
            provider["endpoint"] = provider_url
    if edit is not None:
        edit(document)
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_config(target)


def fleet_edit(redis_url: str, key_prefix: str, replicas: int) -> Callable[[dict[str, Any]], None]:
    """For ``replicas`` gateways: budgets and rate limits shared in Redis, and each lane's running and
    queued slots divided between them (rounded up), so the fleet has the capacity the playbook was
    sized for and the same load shape still saturates it."""

    def edit(document: dict[str, Any]) -> None:
        document["state"] = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix,
                             "replicas": replicas}
        for lane in (document.get("lanes") or {}).values():
            for key in ("max_concurrency", "max_queue"):
                if isinstance(lane, dict) and isinstance(lane.get(key), int):
                    lane[key] = max(1, math.ceil(lane[key] / replicas))

    return edit


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"{url}: process exited with {process.returncode}; log {log}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise HarnessError(f"{url}: not ready after {timeout_s:.0f}s; log {log}:\n{_tail(log)}")


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0
def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"port {port}: exited with {process.returncode}; log {log}:\n{_tail(log)}")
        try:
            socket.create_connection((HOST, port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"port {port}: not listening after {timeout_s:.0f}s; log {log}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def _process(args: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in ``log``; on exit: SIGTERM, a bounded wait, then SIGKILL."""
    with open(log, "ab") as handle:
        process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env)
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def locust_args(playbook: Playbook, *, hosts: list[str], provider_url: str, run_id: str, duration_s: float,
                out: Path, users: int | None, wait_for: list[str], web_port: int | None = None) -> list[str]:
    """Locust as a subprocess, headless (or with its web UI on ``web_port``, the playbook's users and
    run time filled in); it waits for ``wait_for`` URLs before its clock starts."""
    web = ["--web-host", HOST, "--web-port", str(web_port)]
    mode = ["--headless", "--only-summary"] if web_port is None else web
    args = [sys.executable, "-m", "locust", "-f", str(playbook.locustfile), *mode, "--host", hosts[0],
            "-t", f"{max(1, round(duration_s))}s", "--csv", str(out / "locust"), "--exit-code-on-error", "0",
            "--html", str(out / REPORT_HTML),
            "--stop-timeout", "10", "--loglevel", "WARNING",
            "--aigw-run-id", run_id, "--aigw-provider-url", provider_url, "--aigw-out", str(out)]
    for url in wait_for:
        args += ["--aigw-wait-for", url]
    if len(hosts) > 1:
        args += ["--aigw-hosts", ",".join(hosts)]
    count = users if users is not None else playbook.users
    if count is not None:
        args += ["-u", str(count), "-r", str(playbook.spawn_rate or count)]
    return args


PROGRESS_EVERY_S = 10.0


def wait_locust(process: subprocess.Popen[bytes], log: Path, duration_s: float,
                progress: Callable[[str], None] = lambda line: None,
                requests_log: Path | None = None) -> None:
    """Wait for Locust to finish, reporting every ``PROGRESS_EVERY_S`` seconds the time run and the
    requests logged so far (``requests_log``: one line per request after its header)."""
    limit = READY_TIMEOUT_S + duration_s + LOCUST_GRACE_S
    started = time.monotonic()
    while True:
        try:
            code = process.wait(timeout=PROGRESS_EVERY_S)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            if elapsed > limit:
                raise HarnessError(f"locust did not finish within {limit:.0f}s; log {log}") from None
            sent = _count_lines(requests_log) - 1 if requests_log is not None else -1
            counted = f", {sent:,} requests" if sent >= 0 else ""
            progress(f"  {elapsed:4.0f} s of about {duration_s:g} s{counted}")
    if code != 0:
        raise HarnessError(f"locust exited with {code}; log {log}:\n{_tail(log)}")


@dataclass
class Launched:
    """What one run talks to: the gateway and provider URLs, the config they judge by, where the
    gateway's events land, and the gateway process when this harness started it."""

    hosts: list[str]
    provider_url: str
    config: Config
    run_lake: LakeLocation
    gateways: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """The gateways this harness started (stopped before their events are read)."""


def launch_local(stack: ExitStack, options: RunOptions, run_id: str, lake: LakeLocation, workdir: Path,
                 env: dict[str, str], logs: dict[str, Path]) -> tuple[Launched, subprocess.Popen[bytes]]:
    """Provider, gateway(s) (events in a run-scoped lake) and Locust, started together; returns when
    provider and gateways answer (Locust waits for them before its clock starts)."""
    playbook = options.playbook
    replicas = options.replicas
    provider_port = free_port()
    provider_url = f"http://{HOST}:{provider_port}"
    config_path = workdir / "config.yaml"
    edit = None
    if replicas > 1:
        if shutil.which("redis-server") is None:
            raise HarnessError("--replicas needs redis-server (apt-get install -y redis-server)")
        redis_port = free_port()
        logs["redis"] = workdir / "redis.log"
        redis = stack.enter_context(_process(
            ["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"],
            logs["redis"], env))
        _wait_port(redis_port, redis, logs["redis"], READY_TIMEOUT_S)  # the gateways seed through it
        edit = fleet_edit(f"redis://{HOST}:{redis_port}/0", f"lt:{run_id}:", replicas)
    config = playbook_config(options.config_path or playbook.config, provider_url, config_path, edit)
    run_lake = LakeLocation.parse(f"{lake.url.rstrip('/')}/{loadtest_run_prefix(run_id)}/lake")
    logs["provider"] = workdir / "provider.log"
    provider = stack.enter_context(_process(
        [*AIGW, "provider", "--host", HOST, "--port", str(provider_port), "--seed", "7"],
        logs["provider"], env))
    hosts: list[str] = []
    gateways: list[tuple[subprocess.Popen[bytes], Path]] = []
    for index in range(replicas):
        name = "gateway" if replicas == 1 else f"gateway{index}"
        gateway_id = f"loadtest-{run_id}" if replicas == 1 else f"loadtest-{run_id}-{index}"
        port = free_port()
        logs[name] = workdir / f"{name}.log"
        spool = {"AIGW_SPOOL": str(workdir / f"spool-{index}")} if replicas > 1 else {}
        gateways.append((stack.enter_context(_process(
            [*AIGW, "serve", "--config", str(config_path), "--host", HOST, "--port", str(port),
             "--lake", run_lake.url, "--gateway-id", gateway_id, "--drain-timeout", "10",
             "--admin-port", "0"],
            logs[name], {**env, **spool})), logs[name]))
        hosts.append(f"http://{HOST}:{port}")
    ready = [f"{provider_url}/_control/faults", *(f"{host}/healthz" for host in hosts)]
    locust = stack.enter_context(_process(
        locust_args(playbook, hosts=hosts, provider_url=provider_url, run_id=run_id,
                    duration_s=options.duration_s, out=workdir / "locust", users=options.users,
                    wait_for=ready, web_port=options.web_port),
        logs["locust"], env))
    _wait_http(ready[0], provider, logs["provider"], READY_TIMEOUT_S)
    deadline = time.monotonic() + (READY_TIMEOUT_S if replicas == 1 else FLEET_READY_TIMEOUT_S)
    for url, (gateway, log) in zip(ready[1:], gateways, strict=True):
        _wait_http(url, gateway, log, max(1.0, deadline - time.monotonic()))
    return Launched(hosts, provider_url, config, run_lake, [g for g, _ in gateways]), locust


def run_playbook(options: RunOptions, progress: Callable[[str], None] = lambda line: None) -> RunResult:
    """Run, judge and report one playbook; the summary and Locust's CSVs go to the lake."""
    playbook = options.playbook
    if options.hosts:
        for host in options.hosts:
            check_loopback(host)
        check_loopback(options.provider_url)
    run_id = new_run_id(playbook.name)
    lake = LakeLocation.parse(options.lake_url)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix=f"aigw-loadtest-{playbook.name}-"))
    out = workdir / "locust"
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIGW_SPOOL": str(workdir / "spool"), "PYTHONUNBUFFERED": "1"}
    logs = {"locust": out / "locust.log"}
    with ExitStack() as stack:
        if not options.hosts:
            launched, locust = launch_local(stack, options, run_id, lake, workdir, env, logs)
        else:
            _, config = load_config_document(options.config_path or default_config_path())
            launched = Launched(list(options.hosts), options.provider_url, config, lake)
            locust = stack.enter_context(_process(
                locust_args(playbook, hosts=list(options.hosts), provider_url=options.provider_url,
                            run_id=run_id, duration_s=options.duration_s, out=out, users=options.users,
                            wait_for=[]),
                logs["locust"], env))
        started = time.time()
        wait_locust(locust, logs["locust"], options.duration_s, progress, out / REQUEST_LOG)
        duration = time.time() - started
        client = read_request_log(out / REQUEST_LOG)
        if launched.gateways:
            for gateway in launched.gateways:  # SIGTERM: drain and flush telemetry before reading it
                gateway.terminate()
            for gateway in launched.gateways:
                stop_process(gateway)
            telemetry = read_run_events(launched.run_lake, run_id)
        else:
            answered = sum(1 for r in client if r.status > 0)
            telemetry = wait_for_run_events(launched.run_lake, run_id, answered, EXTERNAL_TELEMETRY_WAIT_S)
    phases = read_phases(out / PHASES_FILE)
    marks = {p.name: p.t for p in phases}
    if "start" in marks and "stop" in marks:
        started, duration = marks["start"], marks["stop"] - marks["start"]
    run = RunData(scenario=playbook.name, config=launched.config, client=client, telemetry=telemetry,
                  phases=phases, users=options.users or playbook.users or 0,
                  locust_totals=read_locust_totals(out / "locust_stats.csv"),
                  provider=tuple(read_provider_samples(out / PROVIDER_STATS_FILE)),
                  replicas=len(launched.hosts))
    criteria = judge(run)
    uploaded = _upload_artifacts(lake, run_id, out)
    summary = build_summary(run_id, run, criteria, started, duration, uploaded)
    summary_path = loadtest_summary_path(run_id)
    lake.write_bytes(summary_path, json.dumps(summary, indent=2).encode())
    kept: Path | None = workdir
    if options.workdir is None and summary["verdict"] == "pass":  # everything worth keeping is in the lake
        shutil.rmtree(workdir, ignore_errors=True)
        kept = None
    return RunResult(run_id, criteria, summary, lake.path(summary_path), kept, logs)


def _upload_artifacts(lake: LakeLocation, run_id: str, out: Path) -> list[str]:
    """Locust's CSV stats plus its HTML report, the request log and phases into ``loadtests/<run_id>/``."""
    uploaded = []
    for path in sorted(out.glob("locust_*.csv")):
        relative = f"{loadtest_run_prefix(run_id)}/{path.name}"
        lake.write_bytes(relative, path.read_bytes())
        uploaded.append(relative)
    for name in (REPORT_HTML, REQUEST_LOG, PHASES_FILE, PROVIDER_STATS_FILE):
        if (out / name).exists():
            lake.write_bytes(f"{loadtest_run_prefix(run_id)}/{name}", (out / name).read_bytes())
    return uploaded
