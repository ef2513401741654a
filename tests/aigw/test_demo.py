"""``aigw demo --no-dashboard`` in an empty folder: simulate, build the warehouse; re-running is safe."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from aigw.cli import main

pytestmark = pytest.mark.slow


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


def test_demo_builds_the_warehouse_and_reruns_without_doubling(empty_folder: Path) -> None:
    args = ["demo", "--no-dashboard", "--days", "2", "--scale", "0.03"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert (empty_folder / ".aigw" / "lake" / "events" / "v1").is_dir()
    assert "warehouse built" in first.output and "aigw sql" in first.output and "dagster dev" in first.output
    rows, distinct = count_events(empty_folder)
    assert rows == distinct > 1000
    logged = count_logged(empty_folder)
    assert logged[0] == logged[1] > 500  # the simulated Bedrock's invocation logs, loaded once each

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "replaced the previous demo run" in again.output
    assert count_events(empty_folder) == (rows, distinct)
    assert count_logged(empty_folder) == logged
    with duckdb.connect(str(empty_folder / ".aigw" / "warehouse.duckdb"), read_only=True) as connection:
        tenants = connection.execute("SELECT DISTINCT tenant_id FROM marts.cost_daily ORDER BY 1").fetchall()
    assert [t[0] for t in tenants] == ["acme", "globex", "initech"]


def test_demo_names_a_missing_piece_and_still_succeeds(
    empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pipelines.run", None)  # import fails as if not installed yet
    result = CliRunner().invoke(main, ["demo", "--days", "1", "--scale", "0.01"])
    assert result.exit_code == 0, result.output
    assert "missing: pipelines" in result.output and "Not available yet:" in result.output
    assert not (empty_folder / ".aigw" / "warehouse.duckdb").exists()
    assert list((empty_folder / ".aigw" / "lake" / "events" / "v1").rglob("demo-sim-*.parquet"))
