"""Read the gateway's own events of one run back from the lake, with DuckDB.

DuckDB 2.x has no offline httpfs here, so the lake's ``events/v1`` folder is opened as a pyarrow
dataset on the lake's filesystem (local or S3) and registered in DuckDB; the run-id filter and the
column projection are pushed down into the Parquet scan.
"""

from __future__ import annotations

import time
from importlib import resources

import duckdb
import pyarrow.dataset as ds

from gateway_shim.telemetry.layout import EVENTS_PREFIX
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.storage import LakeLocation
from loadtests.records import TelemetryRow

_SQL = resources.files("loadtests").joinpath("sql/run_events.sql").read_text()


def read_run_events(lake: LakeLocation, run_id: str) -> list[TelemetryRow]:
    """Every event of ``run_id`` in the lake, oldest first (none when the lake has no events yet)."""
    if not lake.list_files(EVENTS_PREFIX):
        return []
    dataset = ds.dataset(lake.path(EVENTS_PREFIX), filesystem=lake.filesystem, format="parquet",
                         schema=EVENT_SCHEMA, partitioning="hive")
    with duckdb.connect() as con:
        con.register("events", dataset)
        cursor = con.execute(_SQL, [run_id])
        names = [column[0] for column in cursor.description or []]
        return [TelemetryRow(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def wait_for_run_events(lake: LakeLocation, run_id: str, expected: int, timeout_s: float,
                        poll_s: float = 1.0) -> list[TelemetryRow]:
    """Poll until at least ``expected`` events of the run are in the lake, or ``timeout_s`` passes.

    For a gateway the harness did not start (``--host``): its writer flushes on its own schedule.
    """
    deadline = time.monotonic() + timeout_s
    rows = read_run_events(lake, run_id)
    while len(rows) < expected and time.monotonic() < deadline:
        time.sleep(poll_s)
        rows = read_run_events(lake, run_id)
    return rows
