"""Run a user's SQL on the warehouse: read-only, under a time limit, with a row cap."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from analytics.warehouse import connect_read_only


class QueryError(RuntimeError):
    """The query could not run; the message names the reason (syntax, read-only, timeout)."""


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool  # more rows existed than the cap


def run_query(
    sql: str, *, path: str | None = None, timeout_s: float = 30.0, max_rows: int = 10_000
) -> QueryResult:
    """Execute ``sql`` read-only; interrupted after ``timeout_s``; at most ``max_rows`` rows."""
    connection = connect_read_only(path)
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
        except duckdb.Error as exc:
            raise QueryError(_describe(exc)) from exc
    finally:
        timer.cancel()
        connection.close()
    return QueryResult(table.slice(0, max_rows), truncated=table.num_rows > max_rows)


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
    message = str(exc)
    if "read-only" in message.lower() or "read only" in message.lower():
        return f"the warehouse is read-only here: {message}"
    return message
