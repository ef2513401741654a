"""A pipeline pointed at a wrong lake refuses instead of emptying the warehouse; objects whose path,
timestamps or columns break the layout or the schema are quarantined with the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from aigw.cli import main
from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA
from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.lakegen import Generator, Lake, small_lake


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, days=1)


def pipeline(lake_path: str, warehouse: Path, lake: Lake, *extra: str) -> Result:
    args = ["pipeline", "--lake", lake_path, "--warehouse", str(warehouse), "--config", str(lake.config_path)]
    return CliRunner().invoke(main, [*args, *extra])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_rows(warehouse: Path) -> int:
    with connect_read_only(warehouse) as connection:
        return int(connection.sql("SELECT count(*) FROM raw.events").fetchall()[0][0])


@pytest.mark.parametrize("wrong", ["missing", "empty"])
def test_a_wrong_lake_against_a_warehouse_with_data_fails_and_leaves_it_untouched(
        lake: Lake, tmp_path: Path, wrong: str) -> None:
    warehouse = tmp_path / "wh.duckdb"
    assert pipeline(lake.location.url, warehouse, lake).exit_code == 0
    before = digest(warehouse)
    typo = tmp_path / "lkae"
    if wrong == "empty":
        (typo / "events" / "v1").mkdir(parents=True)
    result = pipeline(str(typo), warehouse, lake)
    assert result.exit_code == 1, result.output
    assert str(typo) in result.output and "--allow-empty" in result.output
    assert "Traceback" not in result.output
    assert digest(warehouse) == before and raw_rows(warehouse) == len(lake.events)
    assert typo.exists() is (wrong == "empty")  # a reader never creates the lake folder


def test_allow_empty_starts_afresh(lake: Lake, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    assert pipeline(lake.location.url, warehouse, lake).exit_code == 0
    empty = tmp_path / "new-lake"
    result = pipeline(str(empty), warehouse, lake, "--allow-empty")
    assert result.exit_code == 0, result.output
    assert raw_rows(warehouse) == 0 and not empty.exists()


def test_a_fresh_warehouse_on_a_missing_lake_builds_empty_without_creating_the_lake(
        lake: Lake, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-yet"
    result = pipeline(str(missing), tmp_path / "wh.duckdb", lake)
    assert result.exit_code == 0, result.output
    assert raw_rows(tmp_path / "wh.duckdb") == 0 and not missing.exists()


def _write(location: LakeLocation, path: str, table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    location.write_bytes(path, sink.getvalue().to_pybytes())
    return path


def test_objects_breaking_the_layout_or_the_schema_are_quarantined_and_the_rest_loads(
        lake: Lake, tmp_path: Path) -> None:
    location = lake.location
    generator = Generator(lake.v2, lake.v2)
    moment = dt.datetime(2026, 11, 13, 5, tzinfo=dt.UTC)

    def table(**overrides: object) -> pa.Table:
        event = generator.event(moment, **overrides)
        return pa.Table.from_pylist([{name: event.get(name) for name in EVENT_COLUMNS}], schema=EVENT_SCHEMA)

    folder = "events/v1/dt=2026-11-13"
    bad = {
        _write(location, "events/v1/dt=2026-11-13/hour=99/gw-b-hour.parquet", table()): "hour=99",
        _write(location, f"{folder}/hour=05/gw-b-future.parquet",
               table(ts=dt.datetime(2099, 11, 13, 5, tzinfo=dt.UTC))): "outside",
        _write(location, f"{folder}/hour=05/gw-b-extra.parquet",
               table().append_column("prompt_text", pa.array(["secret"]))): "prompt_text",
        _write(location, f"{folder}/hour=05/gw-b-type.parquet",
               table().set_column(EVENT_SCHEMA.get_field_index("input_tokens"), "input_tokens",
                                  pa.array([12], pa.int64()))): "input_tokens",
        _write(location, f"{folder}/hour=05/gw-b-cost.parquet",
               table().set_column(EVENT_SCHEMA.get_field_index("estimated_cost_usd"), "estimated_cost_usd",
                                  pa.array(["3001.0"], pa.string()))): "estimated_cost_usd",
    }
    warehouse = tmp_path / "wh.duckdb"
    result = pipeline(location.url, warehouse, lake)
    assert result.exit_code == 2, result.output
    assert "error: check raw/events:quarantine_empty: 5 object(s) in quarantine" in result.output
    for path, reason in bad.items():
        assert not location.exists(path) and location.exists(f"quarantine/{path}")
        assert reason in location.read_bytes(f"quarantine/{path}.reason.txt").decode(), path
    assert raw_rows(warehouse) == len(lake.events)
