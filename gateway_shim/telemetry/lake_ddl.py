"""External-table DDL for the lake's ``events`` in Athena, Trino (Hive connector) and Spark SQL.

Generated from the two contracts, so it follows them: the columns and types from ``EVENT_SCHEMA``
(``schema.py``) and the location and ``dt``/``hour`` partitions from ``layout.py``. Pure: strings
in, SQL text out (docs/lake.md, "Querying the lake from Athena, Trino or Spark").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Final, Literal

import pyarrow as pa

from gateway_shim.telemetry.layout import EVENTS_PREFIX
from gateway_shim.telemetry.schema import EVENT_SCHEMA

Engine = Literal["athena", "trino", "spark"]
ENGINES: Final = ("athena", "trino", "spark")
PARTITION_COLUMNS: Final = ("dt", "hour")
"""Hive partitions of ``events/v1``: the UTC day ``YYYY-MM-DD`` and hour ``HH`` of ``ts``, as strings."""

# Arrow scalar type -> (Athena/Hive, Trino, Spark) column type
_SCALARS: Final[dict[pa.DataType, tuple[str, str, str]]] = {
    pa.string(): ("string", "varchar", "STRING"),
    pa.int8(): ("tinyint", "tinyint", "TINYINT"),
    pa.int16(): ("smallint", "smallint", "SMALLINT"),
    pa.int32(): ("int", "integer", "INT"),
    pa.int64(): ("bigint", "bigint", "BIGINT"),
    pa.float32(): ("float", "real", "FLOAT"),
    pa.float64(): ("double", "double", "DOUBLE"),
    pa.bool_(): ("boolean", "boolean", "BOOLEAN"),
}
_ENGINE_INDEX: Final = {"athena": 0, "trino": 1, "spark": 2}
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DdlError(ValueError):
    """A DDL that cannot be generated as asked (e.g. Athena on a local lake)."""


def column_type(arrow_type: pa.DataType, engine: Engine) -> str:
    """The engine's SQL type for an event column's Arrow type."""
    index = _ENGINE_INDEX[engine]
    if pa.types.is_timestamp(arrow_type):
        # Parquet INT64 timestamps (UTC-adjusted, µs). Trino's Hive connector takes the precision from
        # the catalog (hive.timestamp-precision; MICROSECONDS keeps the µs) and refuses another one here.
        return ("timestamp", "timestamp", "TIMESTAMP")[index]
    if pa.types.is_list(arrow_type):
        inner = column_type(arrow_type.value_type, engine)
        if engine == "trino":
            return f"array({inner})"
        return f"{'ARRAY' if engine == 'spark' else 'array'}<{inner}>"
    found = _SCALARS.get(arrow_type)
    if found is None:
        raise DdlError(f"no {engine} type for Arrow type {arrow_type}")
    return found[index]


def events_location(lake_url: str, engine: Engine) -> str:
    """Where the ``events`` files live, as the engine names it (Spark on S3 uses ``s3a://``)."""
    root = lake_url.rstrip("/")
    if engine in ("athena", "trino") and not root.startswith("s3://"):
        raise DdlError(f"{engine} reads tables from S3: the lake {lake_url!r} is not an s3:// URL "
                       "(pass --lake s3://bucket/prefix)")
    if engine == "spark" and root.startswith("s3://"):
        root = "s3a://" + root.removeprefix("s3://")
    return f"{root}/{EVENTS_PREFIX}"


def events_ddl(engine: Engine, lake_url: str, *, table: str = "events", schema: str = "aigw",
               first_day: dt.date = dt.date(2025, 1, 1)) -> str:
    """The statements that make ``schema.table`` read the lake's events (each ends with ``;``)."""
    builders: dict[str, Callable[[str, str, str, dt.date], str]] = {
        "athena": _athena, "trino": _trino, "spark": _spark}
    if engine not in builders:
        raise DdlError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    for what, name in (("table", table), ("schema", schema)):
        if not _IDENTIFIER.match(name):
            raise DdlError(f"{what} name {name!r} must be letters, digits and underscores, "
                           "not starting with a digit")
    if "'" in lake_url or "\\" in lake_url:
        raise DdlError(f"the lake URL {lake_url!r} may not contain quotes or backslashes")
    return builders[engine](events_location(lake_url, engine), table, schema, first_day)


def _columns(engine: Engine, quote: str) -> list[str]:
    return [f"  {quote}{field.name}{quote} {column_type(field.type, engine)}" for field in EVENT_SCHEMA]


def _athena(location: str, table: str, schema: str, first_day: dt.date) -> str:
    columns = ",\n".join(_columns("athena", "`"))
    return f"""CREATE DATABASE IF NOT EXISTS `{schema}`;

CREATE EXTERNAL TABLE IF NOT EXISTS `{schema}`.`{table}` (
{columns}
)
PARTITIONED BY (`dt` string, `hour` string)
STORED AS PARQUET
LOCATION '{location}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '{first_day.isoformat()},NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = '{location}/dt=${{dt}}/hour=${{hour}}/'
);
"""


def _trino(location: str, table: str, schema: str, first_day: dt.date) -> str:
    columns = ",\n".join([*_columns("trino", '"'), '  "dt" varchar', '  "hour" varchar'])
    return f"""CREATE SCHEMA IF NOT EXISTS hive."{schema}";

CREATE TABLE IF NOT EXISTS hive."{schema}"."{table}" (
{columns}
)
WITH (
  external_location = '{location}',
  format = 'PARQUET',
  partitioned_by = ARRAY['dt', 'hour']
);

CALL hive.system.sync_partition_metadata('{schema}', '{table}', 'ADD');
"""


def _spark(location: str, table: str, schema: str, first_day: dt.date) -> str:
    columns = ",\n".join([*_columns("spark", "`"), "  `dt` STRING", "  `hour` STRING"])
    return f"""CREATE DATABASE IF NOT EXISTS `{schema}`;

CREATE TABLE IF NOT EXISTS `{schema}`.`{table}` (
{columns}
)
USING PARQUET
PARTITIONED BY (`dt`, `hour`)
LOCATION '{location}';

MSCK REPAIR TABLE `{schema}`.`{table}`;
"""
