"""Asset checks: the properties the marts' exactness rests on, evaluated after each run's build.

The five checks on raw/events run as one step on the run's one connection (one step instead of five:
Dagster's per-step bookkeeping costs more than most of these queries).
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import hashlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import duckdb

from analytics.sql_files import load_sql
from analytics.thresholds import RECONCILIATION_TOLERANCE
from gateway_shim.telemetry.layout import QUARANTINE_PREFIX
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.assets.marts import cost_daily
from pipelines.assets.raw import raw_events
from pipelines.lake_events import list_event_objects, quarantined_objects
from pipelines.loading import loaded_manifest
from pipelines.resources import LakeResource, WarehouseResource

# A lake object not loaded this long after it landed means the pipeline is behind.
FRESHNESS_LAG_S = 3600

RAW_CHECKS = [
    dg.AssetCheckSpec(
        "unique_event_ids",
        asset=raw_events,
        description="Each event_id appears once in raw.events: the ids of the days loaded since the check "
        "last passed are looked up in every row (every id on the first run and after a failure).",
    ),
    dg.AssetCheckSpec("no_null_tenant_on_ok", asset=raw_events, description="Every ok request has a tenant."),
    dg.AssetCheckSpec(
        "row_counts_per_partition",
        asset=raw_events,
        description="Every loaded day has its lake rows (minus duplicates).",
    ),
    dg.AssetCheckSpec(
        "quarantine_empty", asset=raw_events, description="Nothing waits in the lake's quarantine/ folder."
    ),
    dg.AssetCheckSpec(
        "freshness",
        asset=raw_events,
        description=f"No lake event object has waited more than {FRESHNESS_LAG_S}s to be loaded.",
    ),
]


@dg.multi_asset_check(specs=RAW_CHECKS, name="raw_events_checks")
def raw_events_checks(lake: LakeResource, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
    location = lake.location()
    with warehouse.build_connection() as connection:
        yield unique_event_ids(connection)
        yield no_null_tenant_on_ok(connection)
        yield row_counts_per_partition(connection)
        yield quarantine_empty(location, connection)
        yield freshness(location, connection)


def _result(
    check: str,
    *,
    passed: bool,
    metadata: Mapping[str, Any],
    description: str | None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check,
        asset_key=raw_events.key,
        passed=passed,
        metadata=metadata,
        description=description,
        severity=severity,
    )


def unique_event_ids(connection: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    check = "unique_event_ids"
    sql = [load_sql("check_unique_event_ids"), load_sql("check_unique_event_ids_days")]
    print_ = hashlib.sha256("".join(sql).encode()).hexdigest()
    scope = connection.execute(
        load_sql("check_passes_days_to_verify"), {"check": check, "fingerprint": print_}
    )
    found = scope.fetchall()
    days = list(found[0][0]) if found else None
    if days is None:
        counted = connection.execute(sql[0]).fetchone()
    else:
        counted = connection.execute(sql[1], {"days": days}).fetchone()
    events, duplicates = counted or (0, 0)
    if duplicates == 0:
        connection.execute(load_sql("check_passes_record"), {"check": check, "fingerprint": print_})
    checked = dg.MetadataValue.json("all" if days is None else [d.isoformat() for d in days])
    return _result(
        check,
        passed=duplicates == 0,
        metadata={"events": events, "duplicate_ids": duplicates, "days_checked": checked},
        description=f"{duplicates} duplicated event_id(s)" if duplicates else None,
    )


def no_null_tenant_on_ok(connection: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    (missing,) = connection.execute(load_sql("check_no_null_tenant_on_ok")).fetchone() or (0,)
    return _result(
        "no_null_tenant_on_ok",
        passed=missing == 0,
        metadata={"ok_without_tenant": missing},
        description=f"{missing} ok event(s) without tenant_id" if missing else None,
    )


def row_counts_per_partition(connection: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    rows = connection.execute(load_sql("check_row_counts_per_partition")).fetchall()
    bad = [
        f"{day}: {warehouse_rows} warehouse row(s) from {lake_rows} lake row(s) in {objects} object(s)"
        for day, objects, lake_rows, warehouse_rows in rows
        if warehouse_rows > lake_rows or (lake_rows > 0 and warehouse_rows == 0)
    ]
    counts = {str(day): int(warehouse_rows) for day, _, _, warehouse_rows in rows}
    return _result(
        "row_counts_per_partition",
        passed=not bad,
        metadata={"rows_per_day": dg.MetadataValue.json(counts), "problems": bad},
        description="; ".join(bad) if bad else None,
    )


def quarantine_empty(location: LakeLocation, connection: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    waiting = quarantined_objects(location)
    recorded = connection.execute(load_sql("check_quarantine_empty")).fetchall()
    reasons = {path: reason for path, _, reason, _ in recorded}
    detail = [
        f"{path}: {reasons.get(path.removeprefix(QUARANTINE_PREFIX + '/'), 'see its .reason.txt')}"
        for path in waiting
    ]
    return _result(
        "quarantine_empty",
        passed=not waiting,
        metadata={"quarantined": dg.MetadataValue.json(detail)},
        description=f"{len(waiting)} object(s) in quarantine: " + "; ".join(detail) if waiting else None,
    )


def freshness(location: LakeLocation, connection: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    objects = list_event_objects(location)
    loaded = {(path, size, mtime) for _, path, size, mtime in loaded_manifest(connection)}
    newest, last_load = connection.execute(load_sql("check_freshness")).fetchone() or (None, None)
    cutoff_ns = (time.time() - FRESHNESS_LAG_S) * 1e9
    waiting = [
        o.path for o in objects if o.dt is not None and o.signature not in loaded and o.mtime_ns < cutoff_ns
    ]
    return _result(
        "freshness",
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


ALL_CHECKS = [raw_events_checks, cost_reconciliation]
