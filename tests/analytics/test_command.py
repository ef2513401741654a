"""``aigw sql``: formats, the row cap, the time limit, read-only, and clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from aigw.cli import main

TOTAL = "SELECT tenant_id, sum(cost_usd) AS cost FROM marts.cost_daily GROUP BY ALL ORDER BY tenant_id"


def sql(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sql", *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_csv_and_json_show_the_same_rows(warehouse: Path) -> None:
    code, table, _ = sql(TOTAL, "--warehouse", str(warehouse))
    assert code == 0
    assert table.splitlines()[0].split() == ["tenant_id", "cost"] and "tenant-0" in table
    code, text, _ = sql(TOTAL, "--warehouse", str(warehouse), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["tenant_id"] for r in rows] == ["tenant-0", "tenant-1", "tenant-2"]
    code, text, _ = sql(TOTAL, "--warehouse", str(warehouse), "--format", "json")
    records = json.loads(text)
    assert sum(r["cost"] for r in records) == sum(i * 0.25 for i in range(100))
    assert [float(r["cost"]) for r in rows] == [r["cost"] for r in records]


def test_parquet_needs_and_writes_an_output_file(warehouse: Path, tmp_path: Path) -> None:
    code, _, _ = sql(TOTAL, "--warehouse", str(warehouse), "--format", "parquet")
    assert code == 2
    target = tmp_path / "out.parquet"
    code, _, err = sql(TOTAL, "--warehouse", str(warehouse), "--format", "parquet", "--output", str(target))
    assert code == 0 and "3 row(s) written" in err
    assert pq.read_table(target).column_names == ["tenant_id", "cost"]


def test_rows_are_capped(warehouse: Path) -> None:
    code, text, err = sql(
        "SELECT * FROM marts.cost_daily", "--warehouse", str(warehouse), "--format", "json", "--max-rows", "7"
    )
    assert code == 0 and len(json.loads(text)) == 7
    assert "capped at 7 rows" in err


def test_long_queries_are_cancelled_at_the_time_limit(warehouse: Path) -> None:
    slow = "SELECT count(*) FROM range(10000000000) a(i) WHERE i % 7 = 3"
    code, _, err = sql(slow, "--warehouse", str(warehouse), "--timeout", "0.5")
    assert code == 1 and "0.5s time limit" in err


def test_writes_are_refused(warehouse: Path) -> None:
    code, _, err = sql("DROP TABLE marts.cost_daily", "--warehouse", str(warehouse))
    assert code == 1 and "read-only" in err
    code, out, _ = sql(
        "SELECT count(*) AS n FROM marts.cost_daily", "--warehouse", str(warehouse), "--format", "csv"
    )
    assert out.splitlines() == ["n", "100"]


def test_bad_sql_and_missing_warehouse_give_one_clear_line(warehouse: Path, tmp_path: Path) -> None:
    code, _, err = sql("SELEC 1", "--warehouse", str(warehouse))
    assert code == 1 and "syntax error" in err.lower() and "Traceback" not in err
    code, _, err = sql("SELECT 1", "--warehouse", str(tmp_path / "none.duckdb"))
    assert code == 1 and "aigw pipeline" in err


def lake_with_a_file(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    (lake / "events").mkdir(parents=True)
    pq.write_table(pa.table({"n": [1, 2, 3]}), lake / "events" / "x.parquet")
    return lake


@pytest.mark.parametrize(("statement", "kind"), [
    ("COPY (SELECT 1) TO '{out}'", "COPY"),
    ("COPY (SELECT 1) TO '{lake}/events/written.csv'", "COPY"),
    ("EXPORT DATABASE '{out}'", "EXPORT"),
    ("ATTACH '{out}' AS other", "ATTACH"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("SELECT 1; COPY (SELECT 1) TO '{out}'", "COPY"),
])
def test_statements_other_than_queries_are_refused(warehouse: Path, tmp_path: Path, monkeypatch,
                                                   statement: str, kind: str) -> None:
    lake = lake_with_a_file(tmp_path)
    monkeypatch.setenv("AIGW_LAKE", str(lake))
    out = tmp_path / "out.csv"
    code, _, err = sql(statement.format(out=out, lake=lake), "--warehouse", str(warehouse))
    assert code == 1 and f"{kind} statements are refused" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not (lake / "events" / "written.csv").exists()


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
    "SELECT * FROM read_text('{lake}/../../../../etc/passwd')",
    "SELECT * FROM read_parquet('{outside}/*.parquet')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
])
def test_files_outside_the_lake_are_refused(warehouse: Path, tmp_path: Path, monkeypatch, query: str) -> None:
    lake = lake_with_a_file(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    pq.write_table(pa.table({"secret": [1]}), outside / "s.parquet")
    monkeypatch.setenv("AIGW_LAKE", str(lake))
    code, out, err = sql(query.format(lake=lake, outside=outside), "--warehouse", str(warehouse))
    assert code == 1 and "may read only the warehouse and the lake" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "root:" not in out + err


def test_the_lake_can_still_be_read(warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    lake = lake_with_a_file(tmp_path)
    monkeypatch.setenv("AIGW_LAKE", str(lake))
    code, out, err = sql(f"SELECT sum(n) AS n FROM read_parquet('{lake}/**/*.parquet')",
                         "--warehouse", str(warehouse), "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == ["n", "6"]


def test_null_is_visible_and_an_empty_result_says_so(warehouse: Path) -> None:
    code, table, _ = sql("SELECT NULL AS missing, 1 AS one", "--warehouse", str(warehouse))
    assert code == 0 and table.splitlines()[2].split() == ["NULL", "1"]
    code, table, _ = sql("SELECT * FROM marts.cost_daily WHERE false", "--warehouse", str(warehouse))
    assert code == 0 and table.splitlines()[-1] == "(0 rows)"
    code, text, err = sql("SELECT * FROM marts.cost_daily WHERE false", "--warehouse", str(warehouse),
                          "--format", "csv")
    assert code == 0 and text.strip() == "day,tenant_id,cost_usd" and "0 rows" in err


HOLD_READ_WRITE = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])  # read-write, as notebooks open it by default
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_lock_held_by_another_process_gives_one_line_naming_it(warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "locked.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", HOLD_READ_WRITE, str(copy)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        code, _, err = sql("SELECT 1", "--warehouse", str(copy))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert f"PID {holder.pid}" in lines[0] and "read_only=True" in lines[0] and "Traceback" not in err
