"""``aigw pipeline`` and the in-process runner: idempotent reruns, exit codes, progress lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from aigw.cli import main
from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import Lake, small_lake

MARTS = (
    "cost_daily",
    "showback_monthly",
    "budget_status",
    "slo_daily",
    "slo_monthly",
    "slo_alerts",
    "policy_drift",
    "loadtest_runs",
)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path)


def snapshot(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    with connect_read_only(warehouse) as connection:
        tables = {name: connection.sql(f"SELECT * FROM marts.{name}").fetchall() for name in MARTS}
        tables["raw"] = connection.sql(
            "SELECT * EXCLUDE (source_file) FROM raw.events ORDER BY event_id"
        ).fetchall()
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


def test_rerunning_partitions_gives_the_same_warehouse(lake: Lake, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    first = run(lake, warehouse)
    assert first.success and not first.failed_checks, first.failed_checks
    assert first.days == [dt.date(2026, 11, 13), dt.date(2026, 11, 14), dt.date(2026, 11, 15)]
    before = snapshot(warehouse)
    assert len(before["raw"]) == len(lake.events)
    again = run(lake, warehouse, days=first.days)
    assert again.metadata["raw/events"]["days_loaded"] == [d.isoformat() for d in first.days]
    assert snapshot(warehouse) == before
    nothing_new = run(lake, warehouse)
    assert nothing_new.days == [] and "raw/events" not in nothing_new.metadata
    assert snapshot(warehouse) == before


def test_cli_prints_a_line_per_asset_and_exits_zero(lake: Lake, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    args = [
        "pipeline",
        "--lake",
        lake.location.url,
        "--warehouse",
        str(warehouse),
        "--config",
        str(lake.config_path),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for asset in ("raw/events", "ref/policy", *(f"marts/{m}" for m in MARTS), "warehouse"):
        assert sum(line.startswith("ok") and f" {asset} " in line for line in lines) == 1, asset
    assert lines[-1] == "warehouse published (3 day(s) loaded)"


def test_cli_names_the_failing_asset_and_reason(lake: Lake, tmp_path: Path) -> None:
    args = [
        "pipeline",
        "--lake",
        lake.location.url,
        "--warehouse",
        str(tmp_path / "wh.duckdb"),
        "--config",
        str(tmp_path / "missing.yaml"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "error: asset ref/policy:" in result.output and "missing.yaml" in result.output
    assert "Traceback" not in result.output


def test_cli_exits_2_naming_the_failed_check(lake: Lake, tmp_path: Path) -> None:
    lake.location.write_bytes("events/v1/dt=2026-11-14/hour=01/gw-z-broken.parquet", b"garbage")
    args = [
        "pipeline",
        "--lake",
        lake.location.url,
        "--warehouse",
        str(tmp_path / "wh.duckdb"),
        "--config",
        str(lake.config_path),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert (
        "error: check raw/events:quarantine_empty" in result.output and "gw-z-broken.parquet" in result.output
    )
    with connect_read_only(tmp_path / "wh.duckdb") as connection:
        assert connection.sql("SELECT count(*) FROM raw.events").fetchall()[0][0] == len(lake.events)


def test_cli_rejects_unknown_assets_and_bad_days(lake: Lake, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "pipeline",
            "--select",
            "marts.nope",
            "--lake",
            lake.location.url,
            "--warehouse",
            str(tmp_path / "wh.duckdb"),
        ],
    )
    assert result.exit_code == 1 and "unknown asset(s) marts.nope" in result.output
    assert "marts.cost_daily" in result.output
    result = runner.invoke(main, ["pipeline", "--partition", "2026-13-01"])
    assert result.exit_code == 2 and "expected YYYY-MM-DD" in result.output


def test_select_builds_only_what_is_asked_and_publishes(lake: Lake, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    outcome = run(lake, warehouse, select=["raw.events", "marts/cost_daily", "ref.policy"])
    assert outcome.success
    assert set(outcome.metadata) == {"raw/events", "ref/policy", "marts/cost_daily", "warehouse"}
    with connect_read_only(warehouse) as connection:
        requests = connection.sql("SELECT sum(requests) FROM marts.cost_daily").fetchall()[0][0]
    assert requests == len(lake.events)


def test_a_broken_policy_snapshot_is_copied_to_quarantine_and_the_rest_builds(
    lake: Lake, tmp_path: Path
) -> None:
    lake.location.write_bytes("policies/0000broken.json", b"{not json")
    outcome = run(lake, tmp_path / "wh.duckdb")
    assert outcome.success and "marts/policy_drift" in outcome.metadata
    assert any("quarantine_empty" in c and "policies/0000broken.json" in c for c in outcome.failed_checks)
    assert lake.location.exists("policies/0000broken.json")  # copied, not moved
    assert lake.location.exists("quarantine/policies/0000broken.json.reason.txt")
    with connect_read_only(tmp_path / "wh.duckdb") as connection:
        versions = connection.sql("SELECT policy_version FROM ref.policies").fetchall()
    assert versions == [(lake.v2.policy_version,)]
