"""Read-only, cached access to the warehouse marts for every page.

The connection is cached per version of the warehouse file (path, inode, mtime), so a pipeline that
swaps in a new file is picked up on the next rerun; results are cached with a ttl on top. Queries
open a cursor of their own, so concurrent sessions never share one DuckDB handle mid-query.
"""

from __future__ import annotations

import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd
import streamlit as st

from dashboards import months

SQL_DIR = Path(__file__).with_name("sql")
REQUIRED_MARTS = ("cost_daily", "showback_monthly", "slo_daily", "policy_drift", "loadtest_runs")
RESULT_TTL_S = 300
CONNECTION_TTL_S = 600
BUILD_COMMANDS = "`aigw demo` (everything end to end) or `aigw simulate --days 35` then `aigw pipeline`"


class Snapshot(NamedTuple):
    """One version of the warehouse file; a new version means new cache keys."""

    path: str
    inode: int
    mtime_ns: int


def warehouse_path() -> Path:
    """``$AIGW_WAREHOUSE`` or ``./.aigw/warehouse.duckdb``."""
    return Path(os.environ.get("AIGW_WAREHOUSE") or ".aigw/warehouse.duckdb")


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def snapshot(path: Path | None = None) -> Snapshot | None:
    """The current version of the warehouse file, or None when there is no file."""
    target = path or warehouse_path()
    try:
        stat = target.stat()
    except FileNotFoundError:
        return None
    return Snapshot(str(target.resolve()), stat.st_ino, stat.st_mtime_ns)


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@st.cache_resource(ttl=CONNECTION_TTL_S, max_entries=4, show_spinner=False)
def _connection(snap: Snapshot) -> duckdb.DuckDBPyConnection:
    return connect_read_only(Path(snap.path))


@st.cache_data(ttl=RESULT_TTL_S, max_entries=512, show_spinner=False)
def query(snap: Snapshot, name: str, params: tuple[object, ...] = ()) -> pd.DataFrame:
    """Run ``sql/<name>.sql`` with bound ``params`` on a cursor of the cached read-only connection."""
    cursor = _connection(snap).cursor()
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
    except duckdb.Error as error:
        return (
            f"Cannot open the warehouse at `{snap.path}` read-only ({error}). "
            f"If a pipeline is writing it in place, retry in a moment; otherwise rebuild it with "
            f"`aigw pipeline`."
        )
    marts = set(tables.loc[tables["table_schema"] == "marts", "table_name"])
    missing = [name for name in REQUIRED_MARTS if name not in marts]
    if missing:
        listed = ", ".join(f"`marts.{name}`" for name in missing)
        return f"The warehouse at `{snap.path}` has no {listed} yet. Build the marts with `aigw pipeline`."
    if int(query(snap, "cost_rows")["rows"].iloc[0]) == 0:
        return f"The warehouse at `{snap.path}` is empty. Fill it with {BUILD_COMMANDS}."
    return None


def has_mart(snap: Snapshot, name: str) -> bool:
    tables = query(snap, "tables")
    return bool(((tables["table_schema"] == "marts") & (tables["table_name"] == name)).any())


def month_index(snap: Snapshot) -> pd.DataFrame:
    """month ('YYYY-MM'), first_day, last_day, cost_usd for every month with data."""
    return query(snap, "months")


def default_month(snap: Snapshot) -> str | None:
    index = month_index(snap)
    if index.empty:
        return None
    return months.last_complete(index["month"], pd.Timestamp(index["last_day"].max()).date())


def showback(snap: Snapshot, month: str) -> pd.DataFrame:
    return query(snap, "showback_month", (month,))


def showback_trend(snap: Snapshot, month: str) -> pd.DataFrame:
    return query(snap, "showback_trend", (month,))


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    if "day" in frame.columns:
        frame = frame.assign(day=pd.to_datetime(frame["day"]).dt.date)
    return frame


def _range(snap: Snapshot, name: str, start: date, end: date) -> pd.DataFrame:
    return _with_dates(query(snap, name, (start, end)))


def cost_daily(snap: Snapshot, month: str) -> pd.DataFrame:
    return _range(snap, "cost_daily", months.first_day(month), months.next_month_start(month))


def slo_daily(snap: Snapshot, month: str) -> pd.DataFrame:
    return _range(snap, "slo_daily", months.first_day(month), months.next_month_start(month))


def slo_alerts(snap: Snapshot, month: str) -> pd.DataFrame:
    if not has_mart(snap, "slo_alerts"):
        return pd.DataFrame(columns=["latency_class", "model_route"])
    return _range(snap, "slo_alerts", months.first_day(month), months.next_month_start(month))


def policy_drift(snap: Snapshot, month: str) -> pd.DataFrame:
    return _range(snap, "policy_drift", months.first_day(month), months.next_month_start(month))


def policy_changes(snap: Snapshot, month: str) -> pd.DataFrame:
    return _with_dates(query(snap, "policy_changes", (months.next_month_start(month),)))


def loadtest_runs(snap: Snapshot) -> pd.DataFrame:
    return query(snap, "loadtest_runs")


def tenants(snap: Snapshot) -> list[str]:
    return [str(tenant) for tenant in query(snap, "tenants")["tenant_id"]]
