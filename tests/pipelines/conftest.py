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
from tests.pipelines.providergen import ProviderRecords, add_late_logs, write_provider_records


@dataclass
class Built:
    lake: Lake
    warehouse: Path
    first: RunOutcome
    second: RunOutcome  # after late events for an old day landed
    late_event_ids: set[str]
    provider: ProviderRecords  # Bedrock's invocation logs and the FOCUS bill for the lake's calls
    late_log_path: str  # the invocation-log object delivered after the first run

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
    """The scenario lake with the provider's records, a first run, late events (and their late
    invocation-log object) for an old day, and a second run."""
    root = tmp_path_factory.mktemp("pipeline")
    lake = build_lake(LakeLocation.parse(str(root / "lake")), root)
    provider = write_provider_records(lake)
    warehouse = root / "warehouse.duckdb"
    first = run(lake, warehouse)
    late = add_late_events(lake)
    late_log_path = add_late_logs(provider, late)
    second = run(lake, warehouse)
    return Built(lake, warehouse, first, second, {e["event_id"] for e in late}, provider, late_log_path)


@pytest.fixture
def day() -> Callable[[str], dt.date]:
    return dt.date.fromisoformat
