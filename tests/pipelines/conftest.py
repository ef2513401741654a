"""Fixtures for the pipeline tests: a lake written in the test and a warehouse built from it for real."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.run import RunOutcome, run_pipeline
from tests.pipelines.lakegen import Lake, add_late_events, build_lake


@dataclass
class Built:
    lake: Lake
    warehouse: Path
    first: RunOutcome
    second: RunOutcome  # after late events for an old day landed
    late_event_ids: set[str]

    def frame(self, sql: str) -> pl.DataFrame:
        with connect_read_only(self.warehouse) as connection:
            return _frame(connection, sql)


def _frame(connection: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    frame = pl.from_arrow(connection.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def run(lake: Lake, warehouse: Path, **kwargs: object) -> RunOutcome:
    return run_pipeline(
        lake_url=lake.location.url, warehouse_path=str(warehouse), config_path=str(lake.config_path), **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The scenario lake, a first run, late events for an old day, and a second run."""
    root = tmp_path_factory.mktemp("pipeline")
    lake = build_lake(LakeLocation.parse(str(root / "lake")), root)
    warehouse = root / "warehouse.duckdb"
    first = run(lake, warehouse)
    late = add_late_events(lake)
    second = run(lake, warehouse)
    return Built(lake, warehouse, first, second, {e["event_id"] for e in late})


@pytest.fixture
def day() -> Callable[[str], dt.date]:
    return dt.date.fromisoformat
