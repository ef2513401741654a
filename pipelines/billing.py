"""The provider's bill → ``raw.billing``: a FOCUS 1.0 export as AWS Data Exports writes it (Parquet).

Every ``*.parquet`` object under the billing source is read (an export rewrites its month's files on
each refresh, so the table is reloaded whole: a month is a few thousand rows). An object that is not
Parquet or lacks a FOCUS column the reconciliation needs is copied to the lake's ``quarantine/`` with
the reason and left out; the rest load. Costs are DECIMAL, so every sum over them is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.sql_files import load_sql
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_events import QUARANTINE_PREFIX

QUARANTINE_FOLDER = f"{QUARANTINE_PREFIX}/billing"
MONEY = pa.decimal128(38, 10)
QUANTITY = pa.decimal128(38, 6)
# FOCUS column -> (raw.billing column, type); the first block is required.
REQUIRED = {
    "ChargePeriodStart": ("charge_period_start", pa.timestamp("us", tz="UTC")),
    "ChargePeriodEnd": ("charge_period_end", pa.timestamp("us", tz="UTC")),
    "BilledCost": ("billed_cost", MONEY),
    "EffectiveCost": ("effective_cost", MONEY),
    "ListCost": ("list_cost", MONEY),
    "ServiceName": ("service_name", pa.string()),
    "ConsumedQuantity": ("consumed_quantity", QUANTITY),
    "x_UsageType": ("x_usage_type", pa.string()),
}
OPTIONAL = {
    "ChargeCategory": ("charge_category", pa.string()),
    "SkuId": ("sku_id", pa.string()),
    "SkuPriceId": ("sku_price_id", pa.string()),
    "RegionId": ("region_id", pa.string()),
    "SubAccountId": ("sub_account_id", pa.string()),
    "ConsumedUnit": ("consumed_unit", pa.string()),
    "PricingQuantity": ("pricing_quantity", QUANTITY),
    "PricingUnit": ("pricing_unit", pa.string()),
    "ListUnitPrice": ("list_unit_price", pa.decimal128(38, 12)),
    "x_Operation": ("x_operation", pa.string()),
}

Log = Callable[[str], None]


@dataclass
class BillLoadReport:
    objects_read: int = 0
    rows_loaded: int = 0
    quarantined: dict[str, str] = field(default_factory=dict)


class UnreadableBill(ValueError):
    """A billing object that is not a usable FOCUS Parquet file; the message is the reason."""


def read_bill_object(data: bytes) -> pa.Table:
    """One export object as raw.billing's columns (less source_file)."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableBill(f"not a readable Parquet file: {exc}") from exc
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise UnreadableBill(f"not a FOCUS export: missing column(s) {', '.join(missing)}")
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for focus, (name, kind) in (REQUIRED | OPTIONAL).items():
        if focus not in table.column_names:
            columns[name] = pa.nulls(table.num_rows, kind)
            continue
        try:
            columns[name] = table.column(focus).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise UnreadableBill(
                f"column {focus}: {table.column(focus).type} does not cast to {kind}"
            ) from exc
    columns["tags"] = _tags_as_json(table)
    return pa.table(columns)


def _tags_as_json(table: pa.Table) -> pa.Array:
    """``Tags`` (a map, or JSON text) as JSON text."""
    if "Tags" not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    column = table.column("Tags")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    return pa.array(
        [None if v is None else json.dumps(dict(v), sort_keys=True) for v in column.to_pylist()], pa.string()
    )


def load_billing(
    source: LakeLocation,
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    *,
    log: Log = lambda message: None,
) -> BillLoadReport:
    """Replace raw.billing with the rows of every readable export object under ``source``."""
    report = BillLoadReport()
    prefix = source.path("") + "/"
    tables = []
    for info in source.list_files(""):
        relative = info.path.removeprefix(prefix)
        if not relative.endswith(".parquet"):
            continue
        data = source.read_bytes(relative)
        try:
            table = read_bill_object(data)
        except UnreadableBill as exc:
            _quarantine(lake, connection, relative, data, str(exc))
            report.quarantined[relative] = str(exc)
            log(f"quarantined billing object {relative}: {exc}")
            continue
        report.objects_read += 1
        tables.append(table.append_column("source_file", pa.array([relative] * table.num_rows, pa.string())))
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute("DELETE FROM raw.billing")
        if tables:
            connection.register("incoming_bill", pa.concat_tables(tables))
            try:
                (inserted,) = connection.execute(load_sql("raw_billing_insert")).fetchall()[0]
            finally:
                connection.unregister("incoming_bill")
            report.rows_loaded = int(inserted)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return report


def _quarantine(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, path: str, data: bytes, reason: str
) -> None:
    """A copy goes to the lake's quarantine; the export's own bucket is left alone."""
    target = f"{QUARANTINE_FOLDER}/{path}"
    lake.write_bytes(target, data)
    lake.write_bytes(f"{target}.reason.txt", f"{path}: {reason}\n".encode())
    connection.execute(load_sql("quarantine_forget"), {"path": path})
    connection.execute(load_sql("quarantine_insert"), {"path": path, "target": target, "reason": reason})
