"""``aigw demo --no-dashboard`` in an empty folder: simulate, build the warehouse; re-running is safe."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from aigw.cli import main
from aigw.demo import DemoWindow, demo_runs, demo_window
from gateway_shim.simulate.run import prepare, run
from loadtests.playbooks import PLAYBOOKS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AIGW_LAKE", "AIGW_WAREHOUSE", "AIGW_CONFIG", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def count_events(folder: Path) -> tuple[int, int]:
    with duckdb.connect(str(folder / ".aigw" / "warehouse.duckdb"), read_only=True) as connection:
        row = connection.execute("SELECT count(*), count(DISTINCT event_id) FROM raw.events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def count_logged(folder: Path) -> tuple[int, int]:
    with duckdb.connect(str(folder / ".aigw" / "warehouse.duckdb"), read_only=True) as connection:
        sql = "SELECT count(*), count(DISTINCT request_id) FROM raw.invocation_logs"
        row = connection.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_the_window_is_whole_months_whatever_the_day() -> None:
    window = demo_window(dt.date(2026, 12, 7))
    assert (window.baseline_start, window.baseline_days) == (dt.date(2026, 10, 1), 31)
    assert (window.main_start, window.main_days) == (dt.date(2026, 11, 1), 36)
    assert window.landing_month == "2026-11"
    first = demo_window(dt.date(2027, 1, 1))  # nothing of January yet: all of December
    assert (first.baseline_start, first.baseline_days) == (dt.date(2026, 11, 1), 30)
    assert (first.main_start, first.main_days) == (dt.date(2026, 12, 1), 31)
    assert demo_window(dt.date(2026, 4, 30)).baseline_days == 28  # February before March


def test_the_provider_bills_every_logged_day_of_both_runs_through_the_last_billed_day(tmp_path: Path) -> None:
    """The baseline's last day (and its calls served after midnight) is billed: only the main run's
    last day (bill_lag_days: 1) waits for its bill. Billed tokens per day x model x token type are
    exactly the logged ones, whichever run logged them."""
    window = DemoWindow(dt.date(2026, 10, 30), 2, dt.date(2026, 11, 1), 2)
    lake = tmp_path / "lake"
    for options in demo_runs(window, seed=3, scale=0.02, lake=str(lake)):
        assert run(prepare(options)).provider_records is not None
    logged: Counter[tuple[dt.date, str, str]] = Counter()
    for path in (lake / "provider" / "invocation-logs").rglob("*.json.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            record = json.loads(line)
            day, model = dt.date.fromisoformat(record["timestamp"][:10]), record["modelId"]
            logged[(day, model, "input")] += record["input"]["inputTokenCount"]
            logged[(day, model, "cache-read-input")] += record["input"].get("cacheReadInputTokenCount", 0)
            logged[(day, model, "output")] += record["output"]["outputTokenCount"]
    billed: Counter[tuple[dt.date, str, str]] = Counter()
    for path in (lake / "provider" / "focus").rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            usage_type = row["x_UsageType"].removeprefix("USE1-").removesuffix("-tokens")
            kind = next(k for k in ("cache-read-input", "input", "output") if usage_type.endswith(f"-{k}"))
            billed[(row["ChargePeriodStart"].date(), usage_type.removesuffix(f"-{kind}"), kind)] += int(
                row["ConsumedQuantity"])
    assert {day for day, _, _ in logged} == {dt.date(2026, 10, d) for d in (30, 31)} | {
        dt.date(2026, 11, d) for d in (1, 2)}
    last_billed = dt.date(2026, 11, 1)
    wanted = {key: tokens for key, tokens in logged.items() if key[0] <= last_billed and tokens}
    assert dict(billed) == wanted


@pytest.mark.timeout(900)  # two demo runs and the Dagster project loaded: minutes on a busy machine
def test_demo_builds_the_warehouse_and_reruns_without_doubling(empty_folder: Path) -> None:
    args = ["demo", "--no-dashboard", "--today", "2026-12-07", "--scale", "0.01"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    verdicts = [line.split()[0] for line in first.output.splitlines()
                if line.startswith("  ") and line.split()[0].rstrip(":") in PLAYBOOKS and ": " in line]
    assert sorted(verdicts) == sorted(f"{name}:" for name in PLAYBOOKS), first.output  # pass or fail, shown
    assert (empty_folder / ".aigw" / "lake" / "events" / "v1").is_dir()
    assert "warehouse built" in first.output and "aigw sql" in first.output and "dg dev" in first.output
    rows, distinct = count_events(empty_folder)
    assert rows == distinct > 1000
    logged = count_logged(empty_folder)
    assert logged[0] == logged[1] > 500  # the simulated Bedrock's invocation logs, loaded once each

    again = CliRunner().invoke(main, [*args, "--no-loadtests"])
    assert again.exit_code == 0, again.output
    assert "[2/4] load tests: skipped (--no-loadtests)" in again.output
    assert "replaced the previous demo run" in again.output
    assert count_events(empty_folder) == (rows, distinct)
    assert count_logged(empty_folder) == logged
    with duckdb.connect(str(empty_folder / ".aigw" / "warehouse.duckdb"), read_only=True) as connection:
        tenants = connection.execute("SELECT DISTINCT tenant_id FROM marts.cost_daily ORDER BY 1").fetchall()
        days = connection.execute("SELECT min(dt), max(dt), count(DISTINCT dt) FROM raw.events").fetchone()
        loadtests = connection.execute("SELECT scenario FROM marts.loadtest_runs ORDER BY 1").fetchall()
        drift = dict(connection.execute(
            "SELECT strftime(day, '%Y-%m'), count(*) FILTER (WHERE kind = 'policy_change') "
            "FROM marts.policy_drift GROUP BY ALL").fetchall())
    assert [t[0] for t in tenants] == ["acme", "globex", "initech"]
    assert [s[0] for s in loadtests] == sorted(PLAYBOOKS)  # the first run's, once each
    assert days == (dt.date(2026, 10, 1), dt.date(2026, 12, 6), 67)
    assert drift.get("2026-11", 0) >= 1 and drift.get("2026-10", 0) == 0  # incidents land in the review month
    assert_the_dagster_ui_sees_the_runs(empty_folder / ".aigw" / "dagster")


def assert_the_dagster_ui_sees_the_runs(home: Path) -> None:
    """The definitions as `dg dev` loads them (the project's [tool.dg] settings) and, in the instance the
    demo recorded into (the default ./.aigw/dagster), a materialisation of every asset, check results
    and successful runs: what the UI's asset and run pages show."""
    listed = subprocess.run([str(Path(sys.executable).with_name("dg")), "list", "defs", "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert listed.returncode == 0, listed.stderr
    keys = [dg.AssetKey(asset["asset_key_parts"]) for asset in json.loads(listed.stdout)["assets"]]
    assert dg.AssetKey(["marts", "latency_by_workflow"]) in keys
    assert "telemetry:\n  enabled: false" in (home / "dagster.yaml").read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        never = [key.to_user_string() for key in keys
                 if instance.get_latest_materialization_event(key) is None]
        assert not never, f"never materialised in {home}: {never}"
        runs = instance.get_runs()
        assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(["raw", "events"]), "unique_event_ids")])
        assert check, "no asset check result recorded"


def test_demo_names_a_missing_piece_and_still_succeeds(
    empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pipelines.run", None)  # import fails as if not installed yet
    monkeypatch.setitem(sys.modules, "loadtests.playbooks", None)
    result = CliRunner().invoke(main, ["demo", "--today", "2026-12-02", "--scale", "0.005"])
    assert result.exit_code == 0, result.output
    assert "missing: pipelines" in result.output and "Not available yet:" in result.output
    assert "missing: load tests" in result.output
    assert not (empty_folder / ".aigw" / "warehouse.duckdb").exists()
    assert list((empty_folder / ".aigw" / "lake" / "events" / "v1").rglob("demo-sim-*.parquet"))
