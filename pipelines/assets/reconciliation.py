"""The reconciliation assets: the provider's records in, and the marts that compare them with the gateway.

``raw.invocation_logs`` (Bedrock's model-invocation logs) and ``raw.billing`` (the FOCUS export) come
from the two provider sources (gateway_shim/telemetry/provider_records.py); ``ref.identities`` and
``ref.reconciled_providers`` from the config. The marts are small aggregates rebuilt whole each run:
``reconciliation_daily`` (gateway vs logged vs billed), ``shadow_spend`` (logged calls no gateway
event accounts for) and ``reconciliation_drift`` (price_catalog_drift and shadow_spend findings).
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg
import pyarrow as pa

from analytics.sql_files import load_sql
from analytics.thresholds import PRICE_DRIFT_TOLERANCE, RECONCILIATION_THRESHOLDS
from gateway_shim.config.models import Config
from gateway_shim.telemetry.provider_records import provider_sources
from pipelines.billing import load_billing
from pipelines.invocation_logs import load_invocation_logs
from pipelines.resources import LakeResource, WarehouseResource

RAW_EVENTS = dg.AssetKey(["raw", "events"])
REF_POLICY = dg.AssetKey(["ref", "policy"])


@dg.asset(key=["raw", "invocation_logs"], group_name="raw", kinds={"duckdb", "json"})
def raw_invocation_logs(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """raw.invocation_logs: Bedrock's model-invocation log records, one row per request id."""
    location = lake.location()
    sources = provider_sources(warehouse.policy_config(), location)
    with warehouse.build_connection() as connection:
        report = load_invocation_logs(sources.invocation_logs, location, connection)
        (rows,) = connection.table("raw.invocation_logs").count("*").fetchall()[0]
    return dg.MaterializeResult(
        metadata={
            "source": sources.invocation_logs.url,
            "objects_read": report.objects_read,
            "records_read": report.records_read,
            "records_loaded": report.records_loaded,
            "duplicates_dropped": report.duplicates_dropped,
            "rows": int(rows),
            "malformed": dg.MetadataValue.json(report.malformed),
            "quarantined": dg.MetadataValue.json(report.quarantined),
        }
    )


@dg.asset(key=["raw", "billing"], group_name="raw", kinds={"duckdb", "parquet"})
def raw_billing(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """raw.billing: the provider's FOCUS billing export, reloaded whole."""
    location = lake.location()
    sources = provider_sources(warehouse.policy_config(), location)
    with warehouse.build_connection() as connection:
        report = load_billing(sources.billing, location, connection)
    return dg.MaterializeResult(
        metadata={
            "source": sources.billing.url,
            "objects_read": report.objects_read,
            "rows": report.rows_loaded,
            "quarantined": dg.MetadataValue.json(report.quarantined),
        }
    )


@dg.asset(key=["ref", "reconciliation"], group_name="ref", kinds={"duckdb"})
def ref_reconciliation(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """ref.identities and ref.reconciled_providers, from the config's identities and reconciliation."""
    config = warehouse.policy_config()
    tables = {
        "identities": identities_table(config),
        "reconciled_providers": reconciled_providers_table(config),
    }
    with warehouse.build_connection() as connection:
        for name, table in tables.items():
            connection.register("incoming", table)
            try:
                connection.execute(load_sql(f"ref_{name}"))
            finally:
                connection.unregister("incoming")
    return dg.MaterializeResult(metadata={name: table.num_rows for name, table in tables.items()})


def identities_table(config: Config) -> pa.Table:
    rows = [
        {"pattern": pattern, "team": identity.team, "description": identity.description}
        for pattern, identity in sorted(config.identities.items())
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema([("pattern", pa.string()), ("team", pa.string()), ("description", pa.string())]),
    )


def reconciled_providers_table(config: Config) -> pa.Table:
    settings = config.reconciliation
    rows = [
        {"provider": name, "account_id": settings.account_id, "region": config.providers[name].region}
        for name in config.bedrock_providers()
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema([("provider", pa.string()), ("account_id", pa.string()), ("region", pa.string())]),
    )


RAW_LOGS, RAW_BILL, REF_RECON = raw_invocation_logs.key, raw_billing.key, ref_reconciliation.key


def _rebuild(warehouse: WarehouseResource, name: str, parameters: dict[str, float]) -> dg.MaterializeResult:
    with warehouse.build_connection() as connection:
        connection.execute(load_sql(name), parameters)
        (rows,) = connection.table(f"marts.{name}").count("*").fetchall()[0]
    return dg.MaterializeResult(metadata={"rows": int(rows)})


@dg.asset(
    key=["marts", "reconciliation_daily"],
    deps=[RAW_EVENTS, REF_POLICY, RAW_LOGS, RAW_BILL, REF_RECON],
    group_name="marts",
    kinds={"duckdb"},
)
def reconciliation_daily(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.reconciliation_daily: requests, tokens and cost per the gateway, the logs and the bill."""
    return _rebuild(warehouse, "reconciliation_daily", dict(RECONCILIATION_THRESHOLDS))


@dg.asset(
    key=["marts", "shadow_spend"],
    deps=[RAW_EVENTS, RAW_LOGS, RAW_BILL, REF_RECON],
    group_name="marts",
    kinds={"duckdb"},
)
def shadow_spend(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.shadow_spend: logged Bedrock calls outside the gateway, by identity and team, billed rates."""
    return _rebuild(warehouse, "shadow_spend", {})


@dg.asset(
    key=["marts", "reconciliation_drift"],
    deps=[shadow_spend, RAW_BILL, REF_POLICY],
    group_name="marts",
    kinds={"duckdb"},
)
def reconciliation_drift(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """marts.reconciliation_drift: price_catalog_drift and shadow_spend findings."""
    return _rebuild(warehouse, "reconciliation_drift", {"price_tolerance": PRICE_DRIFT_TOLERANCE})


RECONCILIATION_MARTS = [reconciliation_daily, shadow_spend, reconciliation_drift]
RECONCILIATION_ASSETS = [raw_invocation_logs, raw_billing, ref_reconciliation, *RECONCILIATION_MARTS]
