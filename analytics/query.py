"""Run a user's SQL on the warehouse: read-only, under a time limit, with a row cap.

Read-only means more than a read-only warehouse file. Only queries run (SELECT, WITH, FROM,
DESCRIBE, SHOW, SUMMARIZE, EXPLAIN): COPY, EXPORT, ATTACH, INSTALL/LOAD, SET, CREATE and the rest are
refused before DuckDB sees them. DuckDB's own sandbox then holds file access to the lake's folder
(``allowed_directories``, with ``enable_external_access = false``), extensions are never installed or
loaded on the fly, and the configuration is locked so a query cannot undo any of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import default_lake_url


class QueryError(RuntimeError):
    """The query could not run; the message names the reason (syntax, read-only, timeout)."""


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool  # more rows existed than the cap


QUERY_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


def run_query(
    sql: str, *, path: str | None = None, timeout_s: float = 30.0, max_rows: int = 10_000,
    lake: str | None = None,
) -> QueryResult:
    """Execute ``sql`` read-only; interrupted after ``timeout_s``; at most ``max_rows`` rows.

    Files may be read only under ``lake`` (default: ``$AIGW_LAKE`` or ``./.aigw/lake``) when it is a
    local folder; an S3 lake is not reachable from here (no extension is loaded).
    """
    connection = connect_read_only(path)
    allowed = _local_lake_dir(lake)
    try:
        _sandbox(connection, allowed)
        _refuse_non_queries(connection, sql)
    except BaseException:
        connection.close()
        raise
    timer = threading.Timer(timeout_s, connection.interrupt)
    timer.start()
    try:
        try:
            relation = connection.sql(sql)  # None for a statement without a result
            table = (
                _first_rows(relation.to_arrow_reader(min(max_rows + 1, 65_536)), max_rows + 1)
                if relation is not None
                else pa.table({})
            )
        except duckdb.InterruptException as exc:
            raise QueryError(f"query cancelled after the {timeout_s:g}s time limit") from exc
        except duckdb.PermissionException as exc:
            where = f"the lake ({allowed})" if allowed else "the lake (not a local folder here)"
            raise QueryError(f"aigw sql may read only the warehouse and {where}: "
                             f"{_first_line(exc)}") from exc
        except duckdb.Error as exc:
            raise QueryError(_describe(exc)) from exc
    finally:
        timer.cancel()
        connection.close()
    return QueryResult(table.slice(0, max_rows), truncated=table.num_rows > max_rows)


def _local_lake_dir(lake: str | None) -> str | None:
    """The lake's folder as an absolute path, when the lake is local and exists."""
    location = lake or default_lake_url()
    if "://" in location and not location.startswith("file://"):
        return None
    folder = Path(location.removeprefix("file://")).resolve()
    return str(folder) if folder.is_dir() else None


def _sandbox(connection: duckdb.DuckDBPyConnection, lake_dir: str | None) -> None:
    """File access only under ``lake_dir``, no extension loading, configuration locked."""
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET allowed_directories = $dirs", {"dirs": [lake_dir + "/"] if lake_dir else []})
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def _refuse_non_queries(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_describe(exc)) from exc
    for statement in statements:
        if statement.type not in QUERY_STATEMENTS:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise QueryError(
                f"{kind} statements are refused: aigw sql is read-only and runs queries only (SELECT, "
                "WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN); to save results use --format and --output"
            )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _first_rows(reader: pa.RecordBatchReader, limit: int) -> pa.Table:
    """At least ``limit`` rows when there are that many (stops reading there), else all of them."""
    batches, rows = [], 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        if rows >= limit:
            break
    return pa.Table.from_batches(batches, schema=reader.schema)


def _describe(exc: duckdb.Error) -> str:
    message = _first_line(exc)
    if "read-only" in message.lower() or "read only" in message.lower():
        return f"the warehouse is read-only here: {message}"
    return message
