"""The latency-by-workflow mart: what each business task waits, per month and lane."""

from __future__ import annotations

import dagster as dg

from analytics.sql_files import load_sql
from pipelines.resources import WarehouseResource

RAW_EVENTS, REF_POLICY = dg.AssetKey(["raw", "events"]), dg.AssetKey(["ref", "policy"])


@dg.asset(key=["marts", "latency_by_workflow"], deps=[RAW_EVENTS, REF_POLICY], group_name="marts",
          kinds={"duckdb"})
def latency_by_workflow(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.latency_by_workflow: exact p50/p95/p99 and availability per month, workflow and lane."""
    with warehouse.build_connection() as connection:
        connection.execute(load_sql("latency_by_workflow"))
        rows = connection.table("marts.latency_by_workflow").count("*").fetchall()[0][0]
    return dg.MaterializeResult(metadata={"rows": int(rows)})
