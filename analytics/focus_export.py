"""The month's showback as FOCUS rows (``aigw export focus``), for FinOps tools that read FOCUS.

FOCUS 1.0, the newest version the FinOps Foundation's ``focus-validator`` supports on Python 3.11
(its 2.x needs 3.12). One charge per day x tenant x team x app x workflow x lane x provider x model x
cost part (input, cache read, cache write, output tokens, per-request and per-image fees) from
``marts.cost_daily``, so the costs sum to the cost marts; allocation goes in ``Tags``
(``aigw:tenant``, ``aigw:team``, ``aigw:app``, ``aigw:workflow``, ``aigw:lane``) and in ``x_``
columns. The gateway's providers are named from the config: those in ``reconciliation.providers``
are AWS / Amazon Bedrock in the provider's region; the others keep their config name.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics.sql_files import load_sql
from gateway_shim.config.models import Config

FOCUS_VERSION = "1.0"
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` as the month's first day; ``ValueError`` naming the problem."""
    match = MONTH.match(text.strip())
    if not match:
        raise ValueError(f"month {text!r}: expected YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month {text!r}: month {month} is not 01..12")
    return dt.date(year, month, 1)


def providers_table(config: Config) -> pa.Table:
    """How each gateway provider is named in FOCUS (provider, invoice issuer, service, region)."""
    bedrock = set(config.bedrock_providers())
    rows = [
        {
            "model_provider": name,
            "provider_name": "AWS" if name in bedrock else name,
            "service_name": "Amazon Bedrock" if name in bedrock else f"{name} models",
            "region": provider.region,
        }
        for name, provider in sorted(config.providers.items())
    ]
    schema = pa.schema(
        [(field, pa.string()) for field in ("model_provider", "provider_name", "service_name", "region")]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def focus_rows(connection: duckdb.DuckDBPyConnection, month: dt.date, config: Config) -> pa.Table:
    """The month's FOCUS rows (possibly none)."""
    connection.register("focus_providers", providers_table(config))
    try:
        return connection.sql(load_sql("export_focus"), params={"month": month}).to_arrow_table()
    finally:
        connection.unregister("focus_providers")


def write_focus(table: pa.Table, out: Path) -> None:
    """``.parquet`` or ``.csv`` by the file's suffix (CSV times as ISO 8601 UTC, ``Z``)."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        pq.write_table(table, out, compression="zstd")
    elif suffix == ".csv":
        columns = [
            pa.array([v.strftime("%Y-%m-%dT%H:%M:%SZ") if v else None for v in col.to_pylist()], pa.string())
            if pa.types.is_timestamp(col.type)
            else col
            for col in table.columns
        ]
        pacsv.write_csv(pa.table(columns, names=table.column_names), out)
    else:
        raise ValueError(f"{out}: the file must end in .parquet or .csv")
