"""Day-grained marts kept up to date by day: only the days reloaded into ``raw.events`` since the
mart was last built are deleted and inserted again, in one transaction.

A mart's rows for one day depend only on that day's raw rows and the reference data (prices, lane
targets), so replacing the changed days gives exactly the rows of a whole rebuild. The mart is
rebuilt whole when it was never built, or when the reference data or its SQL changed since (the
fingerprint in ``meta.mart_builds``). Month-to-date columns are then recomputed for the months of
the changed days from the mart's own exact counts. A month-grained mart (slo_monthly) works the same
way with its SQL replacing the months of the changed days, each from all of that month's raw rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import duckdb

from analytics.sql_files import load_sql


@dataclass(frozen=True)
class DayGrainedMart:
    name: str  # the table is <schema>.<name>; its build is recorded under <name> in meta.mart_builds
    after: str | None = None  # SQL run for the changed days (NULL: all) after the rows are in place
    schema: str = "marts"
    sql: str = ""  # SQL files <sql>_rows, <sql>, <sql>_delete_days, <sql>_days ("" = <name>)

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def stem(self) -> str:
        return self.sql or self.name

    def sql_names(self) -> list[str]:
        names = [f"{self.stem}_rows", self.stem, f"{self.stem}_delete_days", f"{self.stem}_days"]
        return names + ([self.after] if self.after else [])


@dataclass(frozen=True)
class Maintained:
    rows: int
    days_rebuilt: list[dt.date] | None  # None: rebuilt whole


def fingerprint(connection: duckdb.DuckDBPyConnection, mart: DayGrainedMart) -> str:
    """The reference data's digest plus the mart's SQL: a change in either forces a whole rebuild."""
    (reference,) = connection.execute(load_sql("ref_fingerprint")).fetchall()[0]
    digest = hashlib.sha256(str(reference).encode())
    for name in mart.sql_names():
        digest.update(load_sql(name).encode())
    return digest.hexdigest()


def days_to_rebuild(
    connection: duckdb.DuckDBPyConnection, mart: DayGrainedMart, print_: str
) -> list[dt.date] | None:
    """The days loaded since the mart was built with this fingerprint; None: rebuild it whole."""
    rows = connection.execute(
        load_sql("mart_builds_days_to_rebuild"), {"mart": mart.name, "fingerprint": print_}
    )
    found = rows.fetchall()
    return list(found[0][0]) if found else None


def maintain(connection: duckdb.DuckDBPyConnection, mart: DayGrainedMart) -> Maintained:
    """Bring ``<schema>.<name>`` up to date with raw.events, by day where it can."""
    rows_macro, whole, delete_days, insert_days = mart.sql_names()[:4]
    connection.execute(load_sql(rows_macro))  # the temp table macro <sql>_rows(days)
    print_ = fingerprint(connection, mart)
    days = days_to_rebuild(connection, mart, print_)
    connection.execute("BEGIN TRANSACTION")
    try:
        if days is None:
            connection.execute(load_sql(whole))
        elif days:
            connection.execute(load_sql(delete_days), {"days": days})
            connection.execute(load_sql(insert_days), {"days": days})
        if mart.after and (days is None or days):
            connection.execute(load_sql(mart.after), {"days": days})
        connection.execute(load_sql("mart_builds_record"), {"mart": mart.name, "fingerprint": print_})
        (rows,) = connection.table(mart.table).count("*").fetchall()[0]
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return Maintained(int(rows), days)
