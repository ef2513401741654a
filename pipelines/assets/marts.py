"""The marts layer: ``raw.events`` and ``ref.*`` → ``marts.*``.

Every figure (monthly percentiles included) comes from the raw rows. cost_daily and slo_daily replace
only the days reloaded since they were built, slo_monthly only those days' months
(pipelines/incremental.py); slo_alerts and policy_drift are recomputed from small per-day tables kept
the same way (meta.slo_buckets, meta.drift_daily); the rest are rebuilt whole from cost_daily. The
asset ``marts/<name>`` runs ``analytics/sql/<name>.sql`` and ``<name>_*.sql``, besides the shared
bookkeeping (``mart_builds_*``, ``quarantine_*``; docs/pipelines.md, "Where an asset's SQL lives").
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg
import pyarrow as pa

from analytics.sql_files import load_sql
from analytics.thresholds import DRIFT_THRESHOLDS
from gateway_shim.telemetry.layout import LOADTESTS_PREFIX, is_loadtest_summary
from pipelines.assets.raw import raw_events
from pipelines.assets.reference import ref_policy
from pipelines.incremental import DayGrainedMart, maintain
from pipelines.loading import record_quarantine
from pipelines.loadtest_summaries import SUMMARY_SCHEMA, parse_summary
from pipelines.resources import LakeResource, WarehouseResource


def _rebuild(warehouse: WarehouseResource, name: str) -> dg.MaterializeResult:
    with warehouse.build_connection() as connection:
        connection.execute(load_sql(name))
        rows = connection.table(f"marts.{name}").count("*").fetchall()[0][0]
    return dg.MaterializeResult(metadata={"rows": int(rows)})


def _maintain(warehouse: WarehouseResource, mart: DayGrainedMart) -> dg.MaterializeResult:
    with warehouse.build_connection() as connection:
        done = maintain(connection, mart)
    rebuilt = "all" if done.days_rebuilt is None else [d.isoformat() for d in done.days_rebuilt]
    return dg.MaterializeResult(metadata={"rows": done.rows, "days_rebuilt": dg.MetadataValue.json(rebuilt)})


RAW = raw_events.key
REF = ref_policy.key


@dg.asset(key=["marts", "cost_daily"], deps=[RAW, REF], group_name="marts", kinds={"duckdb"})
def cost_daily(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.cost_daily: requests, tokens, cost at the price of the day and the gateway's estimate."""
    return _maintain(warehouse, DayGrainedMart("cost_daily"))


@dg.asset(key=["marts", "showback_monthly"], deps=[cost_daily, REF], group_name="marts", kinds={"duckdb"})
def showback_monthly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.showback_monthly: cost per tenant, team and app per month against budget and last month."""
    return _rebuild(warehouse, "showback_monthly")


@dg.asset(key=["marts", "budget_status"], deps=[cost_daily, REF], group_name="marts", kinds={"duckdb"})
def budget_status(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.budget_status: month-to-date spend, forecast to month end, days to exhaustion."""
    return _rebuild(warehouse, "budget_status")


@dg.asset(key=["marts", "slo_daily"], deps=[RAW, REF], group_name="marts", kinds={"duckdb"})
def slo_daily(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.slo_daily: availability, exact latency percentiles, error budget and burn rate per lane."""
    return _maintain(warehouse, DayGrainedMart("slo_daily", after="slo_daily_month_to_date"))


@dg.asset(key=["marts", "slo_monthly"], deps=[RAW, REF], group_name="marts", kinds={"duckdb"})
def slo_monthly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.slo_monthly: the month's SLO figures computed from the raw rows (the months of reloaded days)."""
    return _maintain(warehouse, DayGrainedMart("slo_monthly"))


@dg.asset(key=["marts", "slo_alerts"], deps=[RAW, REF], group_name="marts", kinds={"duckdb"})
def slo_alerts(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.slo_alerts: multi-window burn-rate alerts (1h/5m@14.4, 6h/30m@6, 3d/6h@1), from the
    5-minute buckets in meta.slo_buckets (kept up to date by day)."""
    with warehouse.build_connection() as connection:
        buckets = maintain(connection, DayGrainedMart("slo_buckets", schema="meta", sql="slo_alerts_buckets"))
        connection.execute(load_sql("slo_alerts"))
        rows = connection.table("marts.slo_alerts").count("*").fetchall()[0][0]
    days = "all" if buckets.days_rebuilt is None else [d.isoformat() for d in buckets.days_rebuilt]
    return dg.MaterializeResult(
        metadata={"rows": int(rows), "bucket_days_rebuilt": dg.MetadataValue.json(days)}
    )


@dg.asset(key=["marts", "policy_drift"], deps=[RAW, REF, cost_daily], group_name="marts", kinds={"duckdb"})
def policy_drift(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.policy_drift: allowlist violations, policy changes, week-over-week shifts and overruns, from
    the daily counts in meta.drift_daily (kept up to date by day) and marts.cost_daily."""
    with warehouse.build_connection() as connection:
        counts = maintain(connection, DayGrainedMart("drift_daily", schema="meta", sql="policy_drift_daily"))
        connection.execute(load_sql("policy_drift"), DRIFT_THRESHOLDS)
        rows = connection.table("marts.policy_drift").count("*").fetchall()[0][0]
    days = "all" if counts.days_rebuilt is None else [d.isoformat() for d in counts.days_rebuilt]
    return dg.MaterializeResult(
        metadata={"rows": int(rows), "count_days_rebuilt": dg.MetadataValue.json(days)}
    )


@dg.asset(key=["marts", "loadtest_runs"], group_name="marts", kinds={"duckdb"})
def loadtest_runs(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.loadtest_runs: one row per load-test run from loadtests/*/summary.json."""
    location = lake.location()
    rows, unreadable = [], {}
    for info in location.list_objects(LOADTESTS_PREFIX):
        relative = info.path
        if not is_loadtest_summary(relative):
            continue
        try:
            rows.append(parse_summary(relative, location.read_bytes(relative).decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            unreadable[relative] = str(exc)
    with warehouse.build_connection() as connection:
        record_quarantine(location, connection, unreadable)
        connection.register("summaries", pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA))
        try:
            connection.execute(load_sql("loadtest_runs"))
        finally:
            connection.unregister("summaries")
    return dg.MaterializeResult(metadata={"runs": len(rows), "unreadable": dg.MetadataValue.json(unreadable)})


@dg.asset(key=["marts", "latency_by_workflow"], deps=[RAW, REF], group_name="marts", kinds={"duckdb"})
def latency_by_workflow(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.latency_by_workflow: exact p50/p95/p99 and availability per month, workflow and lane."""
    return _rebuild(warehouse, "latency_by_workflow")


MARTS = [
    cost_daily,
    showback_monthly,
    budget_status,
    slo_daily,
    slo_monthly,
    slo_alerts,
    policy_drift,
    loadtest_runs,
    latency_by_workflow,
]
