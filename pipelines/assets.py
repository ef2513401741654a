"""The assets: lake → ``raw.events`` (daily partitions) → ``ref.*`` → ``marts.*`` → the published warehouse.

Every figure (monthly percentiles included) comes from the raw rows. cost_daily and slo_daily replace
only the days reloaded since they were built, slo_monthly only those days' months
(pipelines/incremental.py); slo_alerts and policy_drift are recomputed from small per-day tables kept
the same way (meta.slo_buckets, meta.drift_daily); the rest are rebuilt whole from cost_daily.
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import datetime as dt
import warnings

import dagster as dg
import duckdb
import pyarrow as pa
from dagster_shared.utils.warnings import BetaWarning

from analytics.sql_files import load_sql
from analytics.thresholds import DRIFT_THRESHOLDS
from pipelines.incremental import DayGrainedMart, maintain
from pipelines.lake_events import list_event_objects
from pipelines.loading import load_days, record_quarantine
from pipelines.loadtest_summaries import SUMMARY_SCHEMA, is_summary, parse_summary
from pipelines.partitions import DAILY
from pipelines.reference import (
    PolicySnapshot,
    allowlist_table,
    budgets_table,
    lanes_table,
    parse_snapshot,
    policies_table,
    policy_changes_table,
    pricing_table,
    with_current,
)
from pipelines.resources import LakeResource, WarehouseResource
from pipelines.workflow_latency import latency_by_workflow


class RawEventsConfig(dg.Config):
    force: bool = False
    """Reload every day of the range, not only the days whose lake objects changed."""


def _days(window: dg.TimeWindow) -> list[dt.date]:
    first, end = window.start.date(), window.end.date()
    return [first + dt.timedelta(days=i) for i in range((end - first).days)]


# BackfillPolicy is beta in Dagster 1.13; its warning would reach every `aigw pipeline` user.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
    _raw_events_asset = dg.asset(
        key=["raw", "events"],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw",
        kinds={"duckdb", "parquet"},
    )


@_raw_events_asset
def raw_events(
    context: dg.AssetExecutionContext,
    config: RawEventsConfig,
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """raw.events: the lake's events for the partition range, one row per event_id."""
    location = lake.location()
    days = _days(context.partition_time_window)
    objects = list_event_objects(location)
    with warehouse.build_connection() as connection:
        report = load_days(location, connection, days, objects, force=config.force, log=context.log.info)
    return dg.MaterializeResult(
        metadata={
            "days_loaded": [d.isoformat() for d in report.days_loaded],
            "days_unchanged": len(report.days_unchanged),
            "rows_loaded": report.rows_loaded,
            "duplicates_dropped": report.duplicates_dropped,
            "quarantined": dg.MetadataValue.json(report.quarantined),
        }
    )


@dg.asset(key=["ref", "policy"], group_name="ref", kinds={"duckdb"})
def ref_policy(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """ref.pricing, ref.budgets, ref.lanes, ref.policies, ref.allowlist, ref.policy_changes."""
    location = lake.location()
    config = warehouse.policy_config()
    snapshots: list[PolicySnapshot] = []
    unreadable: dict[str, str] = {}
    prefix = location.path("") + "/"
    for info in location.list_files("policies"):
        relative = info.path.removeprefix(prefix)
        if not relative.endswith(".json"):
            continue
        try:
            snapshots.append(parse_snapshot(relative, location.read_bytes(relative).decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            unreadable[relative] = str(exc)
    policies = with_current(snapshots, config)
    tables = {
        "pricing": pricing_table(config),
        "budgets": budgets_table(config),
        "lanes": lanes_table(config),
        "policies": policies_table(policies),
        "allowlist": allowlist_table(policies),
        "policy_changes": policy_changes_table(policies),
    }
    with warehouse.build_connection() as connection:
        record_quarantine(location, connection, unreadable)
        for name, table in tables.items():
            _replace_ref_table(connection, name, table)
    return dg.MaterializeResult(
        metadata={
            "current_policy_version": config.policy_version,
            "policy_versions": len(policies),
            "unreadable_snapshots": dg.MetadataValue.json(unreadable),
        }
    )


def _replace_ref_table(connection: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    connection.register("incoming", table)
    try:
        connection.execute(load_sql(f"ref_{name}"))
    finally:
        connection.unregister("incoming")


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
        buckets = maintain(connection, DayGrainedMart("slo_buckets", schema="meta"))
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
        counts = maintain(connection, DayGrainedMart("drift_daily", schema="meta"))
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
    prefix = location.path("") + "/"
    rows, unreadable = [], {}
    for info in location.list_files("loadtests"):
        relative = info.path.removeprefix(prefix)
        if not is_summary(relative):
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


@dg.asset(key=["warehouse"], deps=[RAW, REF, *MARTS], group_name="publish")
def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The published warehouse file readers open: the finished build, swapped in atomically."""
    path = warehouse.publish()
    return dg.MaterializeResult(metadata={"path": str(path), "bytes": path.stat().st_size})


ALL_ASSETS = [raw_events, ref_policy, *MARTS, published_warehouse]
