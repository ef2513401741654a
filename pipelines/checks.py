"""Asset checks: the properties the marts' exactness rests on, evaluated after each run's build."""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import time

import dagster as dg

from analytics.sql_files import load_sql
from analytics.thresholds import RECONCILIATION_TOLERANCE
from pipelines.assets import cost_daily, raw_events
from pipelines.lake_events import list_event_objects, quarantined_objects
from pipelines.loading import loaded_manifest
from pipelines.resources import LakeResource, WarehouseResource

# A lake object not loaded this long after it landed means the pipeline is behind.
FRESHNESS_LAG_S = 3600


@dg.asset_check(asset=raw_events, description="Each event_id appears once in raw.events.")
def unique_event_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.build_connection() as connection:
        events, duplicates = connection.execute(load_sql("check_unique_event_ids")).fetchone() or (0, 0)
    return dg.AssetCheckResult(
        passed=duplicates == 0,
        metadata={"events": events, "duplicate_ids": duplicates},
        description=f"{duplicates} duplicated event_id(s)" if duplicates else None,
    )


@dg.asset_check(asset=raw_events, description="Every ok request has a tenant.")
def no_null_tenant_on_ok(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.build_connection() as connection:
        (missing,) = connection.execute(load_sql("check_null_tenant_on_ok")).fetchone() or (0,)
    return dg.AssetCheckResult(
        passed=missing == 0,
        metadata={"ok_without_tenant": missing},
        description=f"{missing} ok event(s) without tenant_id" if missing else None,
    )


@dg.asset_check(asset=raw_events, description="Every loaded day has its lake rows (minus duplicates).")
def row_counts_per_partition(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.build_connection() as connection:
        rows = connection.execute(load_sql("check_row_counts")).fetchall()
    bad = [
        f"{day}: {warehouse_rows} warehouse row(s) from {lake_rows} lake row(s) in {objects} object(s)"
        for day, objects, lake_rows, warehouse_rows in rows
        if warehouse_rows > lake_rows or (lake_rows > 0 and warehouse_rows == 0)
    ]
    counts = {str(day): int(warehouse_rows) for day, _, _, warehouse_rows in rows}
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={"rows_per_day": dg.MetadataValue.json(counts), "problems": bad},
        description="; ".join(bad) if bad else None,
    )


@dg.asset_check(asset=raw_events, description="Nothing waits in the lake's quarantine/ folder.")
def quarantine_empty(lake: LakeResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    waiting = quarantined_objects(lake.location())
    with warehouse.build_connection() as connection:
        reasons = {
            path: reason for path, _, reason, _ in connection.execute(load_sql("check_quarantine")).fetchall()
        }
    detail = [
        f"{path}: {reasons.get(path.removeprefix('quarantine/'), 'see its .reason.txt')}" for path in waiting
    ]
    return dg.AssetCheckResult(
        passed=not waiting,
        metadata={"quarantined": dg.MetadataValue.json(detail)},
        description=f"{len(waiting)} object(s) in quarantine: " + "; ".join(detail) if waiting else None,
    )


@dg.asset_check(
    asset=raw_events,
    description=f"No lake event object has waited more than {FRESHNESS_LAG_S}s to be loaded.",
)
def freshness(lake: LakeResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    objects = list_event_objects(lake.location())
    with warehouse.build_connection() as connection:
        loaded = {(path, size, mtime) for _, path, size, mtime in loaded_manifest(connection)}
        newest, last_load = connection.execute(load_sql("check_freshness")).fetchone() or (None, None)
    cutoff_ns = (time.time() - FRESHNESS_LAG_S) * 1e9
    waiting = [
        o.path for o in objects if o.dt is not None and o.signature not in loaded and o.mtime_ns < cutoff_ns
    ]
    return dg.AssetCheckResult(
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"newest_event": str(newest), "last_load": str(last_load), "objects_waiting": len(waiting)},
        description=f"{len(waiting)} lake object(s) waiting over {FRESHNESS_LAG_S}s, e.g. {waiting[0]}"
        if waiting
        else None,
    )


@dg.asset_check(
    asset=cost_daily,
    description=f"Recomputed and estimated cost agree within {RECONCILIATION_TOLERANCE:.1%} per day.",
)
def cost_reconciliation(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.build_connection() as connection:
        rows = connection.execute(
            load_sql("check_cost_reconciliation"), {"tolerance": RECONCILIATION_TOLERANCE}
        ).fetchall()
    problems = [f"{day}: {', '.join(models)}" for day, _, _, _, models in rows]
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={"diverging_days": dg.MetadataValue.json(problems)},
        description="cost diverges from the estimates on " + "; ".join(problems) if rows else None,
    )


ALL_CHECKS = [
    unique_event_ids,
    no_null_tenant_on_ok,
    row_counts_per_partition,
    quarantine_empty,
    freshness,
    cost_reconciliation,
]
