"""`aigw lake ddl`: the DDL parsed back must give exactly the event schema's columns and types, the
lake layout's location and the dt/hour partitions — and match the Parquet files the writer makes."""

from __future__ import annotations

import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway_shim.telemetry import lake_ddl
from gateway_shim.telemetry.columnar import to_table
from gateway_shim.telemetry.lake_ddl import DdlError, events_ddl
from gateway_shim.telemetry.layout import EVENTS_PREFIX
from gateway_shim.telemetry.parquet_encoding import hour_files
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from tests.gateway_shim.telemetry.events import make_event

LAKE = "s3://corp-lake/aigw"
# Each engine's SQL type -> the Arrow type it reads; written here independently of lake_ddl's table.
SQL_TO_ARROW = {
    "athena": {"string": pa.string(), "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(),
               "bigint": pa.int64(), "float": pa.float32(), "double": pa.float64(), "boolean": pa.bool_(),
               "timestamp": pa.timestamp("us", tz="UTC"), "array<string>": pa.list_(pa.string())},
    "trino": {"varchar": pa.string(), "tinyint": pa.int8(), "smallint": pa.int16(), "integer": pa.int32(),
              "bigint": pa.int64(), "real": pa.float32(), "double": pa.float64(), "boolean": pa.bool_(),
              "timestamp": pa.timestamp("us", tz="UTC"), "array(varchar)": pa.list_(pa.string())},
    "spark": {"STRING": pa.string(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(),
              "BIGINT": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
              "TIMESTAMP": pa.timestamp("us", tz="UTC"), "ARRAY<STRING>": pa.list_(pa.string())},
}
_COLUMN = re.compile(r'^\s+[`"](\w+)[`"] ([\w<>()]+),?$')


def table_columns(ddl: str) -> list[tuple[str, str]]:
    """(name, SQL type) of every column inside the CREATE TABLE's parentheses."""
    body = ddl.split("TABLE IF NOT EXISTS", 1)[1].split("(\n", 1)[1].split("\n)", 1)[0]
    columns = []
    for line in body.splitlines():
        match = _COLUMN.match(line)
        assert match, f"not a column definition: {line!r}"
        columns.append((match.group(1), match.group(2)))
    return columns


def parsed(engine: str, ddl: str) -> tuple[pa.Schema, list[str]]:
    """The data columns as an Arrow schema, and the partition columns, read back from the DDL."""
    columns = table_columns(ddl)
    if engine == "athena":
        partitions = re.findall(r"`(\w+)` string", re.search(r"PARTITIONED BY \((.*)\)", ddl).group(1))
    else:
        clause = r"partitioned_by = ARRAY\[(.*)\]" if engine == "trino" else r"PARTITIONED BY \((.*)\)"
        listed = re.search(clause, ddl).group(1)
        partitions = re.findall(r"[`']?(\w+)[`']?", listed)
        assert [name for name, _ in columns[-2:]] == partitions
        assert all(sql in ("varchar", "STRING") for _, sql in columns[-2:])
        columns = columns[:-2]
    types = SQL_TO_ARROW[engine]
    return pa.schema([pa.field(name, types[sql]) for name, sql in columns]), partitions


@pytest.mark.parametrize("engine", ["athena", "trino", "spark"])
def test_the_ddl_has_exactly_the_event_schema_and_the_hive_partitions(engine: str) -> None:
    schema, partitions = parsed(engine, events_ddl(engine, LAKE))  # type: ignore[arg-type]
    assert schema.names == EVENT_SCHEMA.names
    assert [f.type for f in schema] == [f.type for f in EVENT_SCHEMA]
    assert partitions == ["dt", "hour"]


@pytest.mark.parametrize("engine", ["athena", "trino", "spark"])
def test_the_ddl_matches_the_parquet_files_the_writer_makes(engine: str) -> None:
    events = [make_event(i, ts_us=1_795_996_800_000_000 + i * 60_000_000) for i in range(5)]
    table, rejected = to_table(events, "gw")
    assert not rejected
    files = hour_files("gw", "segment-1", table)
    path, buffer = files[0]
    layout = rf"^{re.escape(EVENTS_PREFIX)}/dt=\d{{4}}-\d{{2}}-\d{{2}}/hour=\d{{2}}/[^/]+\.parquet$"
    assert re.match(layout, path)
    written = pq.read_schema(pa.BufferReader(buffer))
    schema, _ = parsed(engine, events_ddl(engine, LAKE))  # type: ignore[arg-type]
    assert written.names == schema.names
    assert [f.type for f in written] == [f.type for f in schema]


def test_locations_follow_the_layout_and_athena_projects_partitions() -> None:
    athena = events_ddl("athena", LAKE + "/")
    assert f"LOCATION '{LAKE}/{EVENTS_PREFIX}/'" in athena
    assert f"'storage.location.template' = '{LAKE}/{EVENTS_PREFIX}/dt=${{dt}}/hour=${{hour}}/'" in athena
    for prop in ("'projection.enabled' = 'true'", "'projection.dt.type' = 'date'",
                 "'projection.dt.format' = 'yyyy-MM-dd'", "'projection.hour.range' = '0,23'",
                 "'projection.hour.digits' = '2'", "'projection.dt.range' = '2025-01-01,NOW'"):
        assert prop in athena
    assert f"external_location = '{LAKE}/{EVENTS_PREFIX}'" in events_ddl("trino", LAKE)
    assert "sync_partition_metadata('aigw', 'events', 'ADD')" in events_ddl("trino", LAKE)
    spark = events_ddl("spark", LAKE, table="llm_events", schema="analytics")
    assert f"LOCATION 's3a://corp-lake/aigw/{EVENTS_PREFIX}'" in spark
    assert "MSCK REPAIR TABLE `analytics`.`llm_events`;" in spark
    assert f"LOCATION '/data/lake/{EVENTS_PREFIX}'" in events_ddl("spark", "/data/lake")


def test_a_new_schema_column_appears_in_the_ddl(monkeypatch: pytest.MonkeyPatch) -> None:
    grown = EVENT_SCHEMA.append(pa.field("future_tokens", pa.int32()))
    monkeypatch.setattr(lake_ddl, "EVENT_SCHEMA", grown)
    schema, _ = parsed("trino", events_ddl("trino", LAKE))
    assert schema.names[-1] == "future_tokens" and schema.field("future_tokens").type == pa.int32()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"engine": "athena", "lake_url": "./.aigw/lake"}, "athena reads tables from S3"),
    ({"engine": "trino", "lake_url": "/data/lake"}, "not an s3:// URL"),
    ({"engine": "spark", "lake_url": LAKE, "table": "events; DROP TABLE x"}, "table name"),
    ({"engine": "spark", "lake_url": "s3://b/it's"}, "may not contain quotes"),
    ({"engine": "duckdb", "lake_url": LAKE}, "unknown engine 'duckdb'"),
])
def test_what_cannot_be_generated_is_named(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(DdlError, match=re.escape(message)):
        events_ddl(**kwargs)  # type: ignore[arg-type]


def test_the_command_prints_the_ddl_and_refuses_clearly() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aigw", "lake", "ddl", *args], capture_output=True,
                              text=True, timeout=60)

    ok = run("--engine", "athena", "--lake", LAKE, "--first-day", "2026-11-01")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == events_ddl("athena", LAKE, first_day=__import__("datetime").date(2026, 11, 1))
    refused = run("--engine", "trino", "--lake", "./lake")
    assert refused.returncode == 1 and "Error: trino reads tables from S3" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert run("--engine", "oracle").returncode == 2
