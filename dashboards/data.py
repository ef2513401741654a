"""Read-only, cached access to the warehouse marts for every page.

The connection is cached per version of the warehouse file (path, inode, mtime), so a pipeline that
swaps in a new file is picked up on the next rerun; results are cached with a ttl on top. Queries
open a cursor of their own, so concurrent sessions never share one DuckDB handle mid-query.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd
import streamlit as st

from analytics.warehouse import WarehouseMissing, connect_read_only, warehouse_path
from dashboards import months

SQL_DIR = Path(__file__).with_name("sql")
REQUIRED_MARTS = (
    "cost_daily",
    "showback_monthly",
    "budget_status",
    "slo_daily",
    "slo_alerts",
    "policy_drift",
    "loadtest_runs",
)
RESULT_TTL_S = 300
CONNECTION_TTL_S = 600
BUILD_COMMANDS = "`aigw demo` (everything end to end) or `aigw simulate --days 60` then `aigw pipeline`"


class Snapshot(NamedTuple):
    """One version of the warehouse file; a new version means new cache keys."""

    path: str
    inode: int
    mtime_ns: int


def snapshot(path: Path | None = None) -> Snapshot | None:
    """The current version of the warehouse file, or None when there is no file."""
    target = warehouse_path(path)
    try:
        stat = target.stat()
    except FileNotFoundError:
        return None
    return Snapshot(str(target.resolve()), stat.st_ino, stat.st_mtime_ns)


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _close(connection: duckdb.DuckDBPyConnection) -> None:
    connection.close()


@st.cache_resource(ttl=CONNECTION_TTL_S, show_spinner=False, on_release=_close)
def _connection(snap: Snapshot) -> duckdb.DuckDBPyConnection:
    return connect_read_only(snap.path)


_switch_lock = threading.Lock()
_open: list[Snapshot] = []


def _cursor(snap: Snapshot) -> duckdb.DuckDBPyConnection:
    """A cursor on the connection for ``snap``, closing any older version's connection first.

    DuckDB shares one open database per path within a process, so a swapped-in file at the same path
    is only seen once the previous version's connection is closed.
    """
    with _switch_lock:
        if _open and _open[0] != snap:
            _connection.clear()
        _open[:] = [snap]
        return _connection(snap).cursor()


@st.cache_data(ttl=RESULT_TTL_S, max_entries=512, show_spinner=False)
def query(snap: Snapshot, name: str, params: tuple[object, ...] = ()) -> pd.DataFrame:
    """Run ``sql/<name>.sql`` with bound ``params`` on a cursor of the cached read-only connection."""
    cursor = _cursor(snap)
    try:
        return cursor.execute(_sql(name), list(params)).df()
    finally:
        cursor.close()


def problem(snap: Snapshot | None) -> str | None:
    """Why the dashboard cannot show this warehouse (Markdown naming the command to run), or None."""
    if snap is None:
        return f"No warehouse at `{warehouse_path()}`. Build one with {BUILD_COMMANDS}."
    try:
        tables = query(snap, "tables")
    except WarehouseMissing:
        return f"The warehouse at `{snap.path}` is an empty file. Build it with {BUILD_COMMANDS}."
    except duckdb.Error as error:
        return (
            f"Cannot open the warehouse at `{snap.path}` read-only ({error}). If a pipeline is writing it "
            f"in place, retry in a moment; otherwise rebuild it with `aigw pipeline`."
        )
    marts = set(tables.loc[tables["table_schema"] == "marts", "table_name"])
    missing = [name for name in REQUIRED_MARTS if name not in marts]
    if missing:
        listed = ", ".join(f"`marts.{name}`" for name in missing)
        return f"The warehouse at `{snap.path}` has no {listed} yet. Build the marts with `aigw pipeline`."
    if int(query(snap, "cost_rows")["rows"].iloc[0]) == 0:
        return f"The warehouse at `{snap.path}` is empty. Fill it with {BUILD_COMMANDS}."
    return None


def month_index(snap: Snapshot) -> pd.DataFrame:
    """month ('YYYY-MM'), first_day, last_day, cost_usd for every month with data."""
    return query(snap, "months")


def default_month(snap: Snapshot) -> str | None:
    index = month_index(snap)
    if index.empty:
        return None
    return months.last_complete(index["month"], pd.Timestamp(index["last_day"].max()).date())


DIMENSIONS = (
    "tenant_id",
    "team",
    "app_id",
    "workflow",
    "latency_class",
    "model_route",
    "model_provider",
    "model_name",
)
UNTAGGED = "(none)"


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Days as ``datetime.date``; a missing tenant, app, lane or route becomes "(none)", so it is grouped,
    sorted and shown like any other value (unauthenticated or blocked requests have no owner or route)."""
    present = [column for column in DIMENSIONS if column in frame.columns]
    frame = frame.assign(**{column: frame[column].fillna(UNTAGGED) for column in present})
    if "day" in frame.columns:
        frame = frame.assign(day=pd.to_datetime(frame["day"]).dt.date)
    return frame


def _month(snap: Snapshot, name: str, month: str) -> pd.DataFrame:
    start, end = months.first_day(month), months.next_month_start(month)
    return _with_dates(query(snap, name, (start, end)))


def showback(snap: Snapshot, month: str) -> pd.DataFrame:
    """marts.showback_monthly rows of ``month``."""
    return _with_dates(query(snap, "showback_month", (month,)))


def showback_trend(snap: Snapshot, month: str) -> pd.DataFrame:
    """Monthly spend per tenant over the twelve months ending with ``month``."""
    return _with_dates(query(snap, "showback_trend", (month,)))


def budget_status(snap: Snapshot, month: str) -> pd.DataFrame:
    """marts.budget_status rows of ``month``: spend to date, forecast to month end, status per tenant."""
    return _with_dates(query(snap, "budget_status", (month,)))


def cost_daily(snap: Snapshot, month: str) -> pd.DataFrame:
    return _month(snap, "cost_daily", month)


def slo_daily(snap: Snapshot, month: str) -> pd.DataFrame:
    return _month(snap, "slo_daily", month)


def slo_alerts(snap: Snapshot, month: str) -> pd.DataFrame:
    return _month(snap, "slo_alerts", month)


def policy_drift(snap: Snapshot, month: str) -> pd.DataFrame:
    return _month(snap, "policy_drift", month)


def policy_changes(snap: Snapshot, month: str) -> pd.DataFrame:
    """Every policy-version change up to the end of ``month``."""
    return _with_dates(query(snap, "policy_changes", (months.next_month_start(month),)))


def loadtest_runs(snap: Snapshot) -> pd.DataFrame:
    return query(snap, "loadtest_runs")


def tenants(snap: Snapshot) -> list[str]:
    """Every tenant the marts know (for colours that stay put across pages and months)."""
    return [str(tenant) for tenant in query(snap, "tenants")["tenant_id"]]
