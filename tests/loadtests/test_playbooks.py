"""Each playbook for real and briefly: ``aigw loadtest`` starts a provider and a gateway, runs Locust
headless, judges and reports. On its playbook config it passes; on a wrongly configured gateway it
exits 1 and names the criterion that caught it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from aigw.cli import main
from gateway_shim.config.overlay import load_config_document
from loadtests.harness import fleet_edit, free_port, playbook_config
from loadtests.playbooks import PLAYBOOKS
from tests.helpers import MotoS3Server, RedisServer, wait_for_port

pytestmark = pytest.mark.slow

Document = dict[str, Any]
AIGW = [sys.executable, "-c", "from aigw.cli import main; main()"]
BROKEN_TIMEOUT_S = 180


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["loadtest", *args], catch_exceptions=False)
    return result.exit_code, result.output


def summary_of(output: str, lake: Path) -> dict[str, Any]:
    run_id = next(line.split()[1] for line in output.splitlines() if line.startswith("run "))
    return dict(json.loads((lake / "loadtests" / run_id / "summary.json").read_text()))


@pytest.mark.parametrize(("name", "duration"), [("fallback", 16), ("saturation", 18), ("budget", 12),
                                                ("circuit", 20)])
def test_playbook_passes_on_its_config(name: str, duration: int, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    code, output = run([name, "--duration", str(duration), "--lake", str(lake),
                        "--workdir", str(tmp_path / "w")])
    assert code == 0, output
    summary = summary_of(output, lake)
    assert summary["scenario"] == name and summary["verdict"] == "pass"
    assert summary["requests"] > 0 and summary["locust_csv"]
    with_provider = {"locust", "telemetry", "provider"} if name in ("fallback", "circuit") else set()
    assert {c["source"] for c in summary["criteria"]} == (with_provider or {"locust", "telemetry"})
    for relative in summary["locust_csv"]:
        assert (lake / relative).stat().st_size > 0
    report = lake / "loadtests" / summary["run_id"] / "report.html"
    assert report.read_text().lstrip().lower().startswith("<!doctype html"), "Locust's HTML report is kept"
    verdict = next(line for line in output.splitlines() if line.startswith(f"{name}: PASS"))
    assert verdict.endswith(f"unexpected errors {summary['unexpected_errors']}")
    if name == "saturation":  # its sheds are by design, and said so; every stage judged from the first
        assert "shed under overload" in verdict and summary["refused_as_designed_rate"] > 0
        phases = json.loads((lake / "loadtests" / summary["run_id"] / "phases.json").read_text())
        stages = [p["name"] for p in phases if p["name"].startswith("stage") or p["name"] == "drop"]
        assert stages == ["stage0", "stage1", "stage2", "stage3", "drop"], phases
    assert " s of about " in output and " requests" in output  # progress lines while Locust runs
    locust_log = (tmp_path / "w" / "locust" / "locust.log").read_text()
    assert "will be ignored" not in locust_log and "have no impact" not in locust_log, locust_log


def test_steady_passes_with_its_report_on_s3(tmp_path: Path, s3_server: MotoS3Server,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.make_bucket("loadtest-reports")
    code, output = run(["steady", "--duration", "10", "--lake", f"{bucket}/lake"])
    assert code == 0, output
    assert "logs:" not in output  # a pass in a temporary work folder leaves nothing behind
    import pyarrow.fs as pafs

    s3 = pafs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                           endpoint_override=s3_server.endpoint_url.removeprefix("http://"), scheme="http")
    names = [info.path for info in s3.get_file_info(pafs.FileSelector("loadtest-reports/lake/loadtests",
                                                                      recursive=True))]
    assert any(path.endswith("/summary.json") for path in names)
    assert any(path.endswith("/locust_stats.csv") for path in names)
    assert any("/lake/events/v1/" in path for path in names), "the gateway's telemetry went to the run's lake"


def squeeze_interactive(doc: Document) -> None:
    doc["lanes"]["interactive"].update({"max_concurrency": 1, "max_queue": 0})


def drop_fallbacks(doc: Document) -> None:
    for route in ("interactive-chat", "default"):
        doc["routes"][route]["targets"] = doc["routes"][route]["targets"][:1]


def invert_priorities(doc: Document) -> None:
    doc["lanes"]["interactive"]["priority"], doc["lanes"]["batch"]["priority"] = 2, 0


def remove_budget(doc: Document) -> None:
    doc["tenants"]["initech"].update({"monthly_budget_usd": 100000, "degrade_at_budget_pct": None})


def breaker_never_opens(doc: Document) -> None:
    doc["providers"]["bedrock"]["circuit_breaker"]["min_requests"] = 1_000_000


BROKEN: dict[str, tuple[int, Callable[[Document], None], str]] = {
    "steady": (6, squeeze_interactive, "interactive_error_rate"),
    "fallback": (8, drop_fallbacks, "success_rate"),
    "saturation": (10, invert_priorities, "interactive_shed_rate"),
    "budget": (6, remove_budget, "budget_stop_observed"),
    "circuit": (10, breaker_never_opens, "breaker_opened_windows"),
}


@dataclass
class BrokenRun:
    lake: Path
    code: int
    output: str


@pytest.fixture(scope="module")
def broken_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BrokenRun]:
    """Every playbook against its wrongly configured gateway, all at once as ``aigw loadtest``
    processes (each fails for a structural reason, so sharing the CPU does not change the verdict)."""
    started: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
    try:
        for name, (duration, break_config, _) in BROKEN.items():
            folder = tmp_path_factory.mktemp(f"broken-{name}")
            doc, _ = load_config_document(PLAYBOOKS[name].config)
            break_config(doc)
            (folder / "broken.yaml").write_text(yaml.safe_dump(doc))
            args = [*AIGW, "loadtest", name, "--duration", str(duration),
                    "--config", str(folder / "broken.yaml"), "--lake", str(folder / "lake"),
                    "--workdir", str(folder / "w")]
            with open(folder / "output.txt", "wb") as out:
                started[name] = folder, subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                                         stdin=subprocess.DEVNULL)
        runs = {}
        for name, (folder, process) in started.items():
            code = process.wait(timeout=BROKEN_TIMEOUT_S)
            runs[name] = BrokenRun(folder / "lake", code, (folder / "output.txt").read_text())
        return runs
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_playbook_fails_on_a_wrongly_configured_gateway(name: str, broken_runs: dict[str, BrokenRun]) -> None:
    result, caught_by = broken_runs[name], BROKEN[name][2]
    assert result.code == 1, result.output
    failed_line = next(line for line in result.output.splitlines() if line.startswith("failed: "))
    assert caught_by in failed_line, result.output
    summary = summary_of(result.output, result.lake)
    assert summary["verdict"] == "fail"
    assert any(c["name"] == caught_by and not c["passed"] for c in summary["criteria"])


def test_unknown_playbook_and_remote_hosts_are_refused(tmp_path: Path) -> None:
    code, output = run(["nope"])
    assert code == 2 and "nope" in output
    code, output = run(["steady", "--host", "http://example.com:8080", "--lake", str(tmp_path),
                        "--workdir", str(tmp_path / "w")])
    assert code == 1 and "only talks to loopback" in output


NO_FALLBACK = Path(__file__).resolve().parents[2] / "loadtests" / "configs" / "no-fallback"


def test_fault_playbooks_fail_on_a_gateway_with_fallback_disabled(tmp_path: Path) -> None:
    """Issue 13: the configs the repeated-run command uses (docs/loadtests.md) make each fault
    playbook fail; both run at once as ``aigw loadtest`` processes."""
    started = {}
    try:
        for name in ("fallback", "circuit"):
            folder = tmp_path / name
            folder.mkdir()
            args = [*AIGW, "loadtest", name, "--duration", "10",
                    "--config", str(NO_FALLBACK / f"{name}.yaml"),
                    "--lake", str(folder / "lake"), "--workdir", str(folder / "w")]
            with open(folder / "output.txt", "wb") as out:
                started[name] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL)
        for name, process in started.items():
            assert process.wait(timeout=BROKEN_TIMEOUT_S) == 1, (tmp_path / name / "output.txt").read_text()
            output = (tmp_path / name / "output.txt").read_text()
            assert "success_rate" in next(line for line in output.splitlines() if line.startswith("failed: "))
            assert summary_of(output, tmp_path / name / "lake")["run_id"].startswith("lt-")
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.long  # fleet runs: `make test-long`
def test_budget_passes_against_three_replicas_judged_from_every_replicas_events(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    code, output = run(["budget", "--replicas", "3", "--duration", "15", "--lake", str(lake),
                        "--workdir", str(tmp_path / "w")])
    assert code == 0, output
    summary = summary_of(output, lake)
    assert summary["verdict"] == "pass"
    criteria = {c["name"]: c for c in summary["criteria"]}
    assert criteria["replicas_reporting"]["measured"] == 3 and criteria["replicas_reporting"]["passed"]
    assert criteria["spend_stops_at_budget_usd"]["passed"]
    logs = sorted(p.name for p in (tmp_path / "w").glob("gateway*.log"))
    assert logs == ["gateway0.log", "gateway1.log", "gateway2.log"]


@pytest.mark.long  # fleet runs: `make test-long`
def test_budget_judges_a_running_fleet_given_by_its_addresses(tmp_path: Path,
                                                              redis_server: RedisServer) -> None:
    """Three replicas started outside the harness (as a deployment would run them); ``--host`` lists
    them (repeated and comma-separated) and the verdicts read every replica's events from their lake."""
    lake = tmp_path / "lake"
    provider_port = free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    config_path = tmp_path / "fleet.yaml"
    playbook_config(PLAYBOOKS["budget"].config, provider_url, config_path,
                    fleet_edit(redis_server.url, f"ext{provider_port}:", 3))
    processes = [subprocess.Popen([*AIGW, "provider", "--port", str(provider_port), "--seed", "7"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    hosts = []
    try:
        for index in range(3):
            port = free_port()
            env = {**os.environ, "AIGW_SPOOL": str(tmp_path / f"spool-{index}")}
            processes.append(subprocess.Popen(
                [*AIGW, "serve", "--config", str(config_path), "--port", str(port), "--lake", str(lake),
                 "--gateway-id", f"fleet-{index}", "--admin-port", "0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
            hosts.append(f"http://127.0.0.1:{port}")
        for url in [provider_url, *hosts]:
            wait_for_port("127.0.0.1", int(url.rsplit(":", 1)[1]), 60)
        code, output = run(["budget", "--host", ",".join(hosts[:2]), "--host", hosts[2],
                            "--provider-url", provider_url, "--config", str(config_path), "--duration", "15",
                            "--lake", str(lake), "--workdir", str(tmp_path / "w")])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    assert code == 0, output
    criteria = {c["name"]: c for c in summary_of(output, lake)["criteria"]}
    assert criteria["replicas_reporting"]["measured"] == 3
    assert criteria["spend_stops_at_budget_usd"]["passed"] and criteria["telemetry_complete"]["passed"]
