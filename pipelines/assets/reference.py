"""The reference layer: the policy config and the lake's ``policies/*.json`` → ``ref.*``.

Its SQL: ``analytics/sql/ref_<table>.sql``, one per table; the rows come from
pipelines/reference_tables.py.
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg
import duckdb
import pyarrow as pa

from analytics.sql_files import load_sql
from gateway_shim.telemetry.layout import POLICIES_PREFIX
from pipelines.loading import record_quarantine
from pipelines.reference_tables import (
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


@dg.asset(key=["ref", "policy"], group_name="ref", kinds={"duckdb"})
def ref_policy(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """ref.pricing, ref.budgets, ref.lanes, ref.policies, ref.allowlist, ref.policy_changes."""
    location = lake.location()
    config = warehouse.policy_config()
    snapshots: list[PolicySnapshot] = []
    unreadable: dict[str, str] = {}
    for info in location.list_objects(POLICIES_PREFIX):
        relative = info.path
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
