"""Where the warehouse lives and how readers open it: read-only, on a file no writer ever holds.

A pipeline run builds into a private file and then swaps a finished copy over ``warehouse_path()``
with ``os.replace`` (see ``pipelines/resources.py``), so a reader opening the path gets either the
previous complete warehouse or the new complete one — never a lock error, never a half-built mart.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

DEFAULT_WAREHOUSE = "./.aigw/warehouse.duckdb"


class WarehouseMissing(RuntimeError):
    """There is no warehouse to read yet; the message says which command builds it."""


def warehouse_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$AIGW_WAREHOUSE``, else ``./.aigw/warehouse.duckdb``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("AIGW_WAREHOUSE") or DEFAULT_WAREHOUSE)


def connect_read_only(path: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, with the session time zone set to UTC."""
    target = warehouse_path(path)
    if not target.is_file() or target.stat().st_size == 0:
        raise WarehouseMissing(
            f"no warehouse at {target}: build it with `aigw pipeline` "
            "(set AIGW_WAREHOUSE or pass --warehouse to use another file)"
        )
    connection = duckdb.connect(str(target), read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    return connection
