"""A small real warehouse for the ``aigw sql`` tests (built directly: these tests are about reading)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA marts")
        connection.execute(
            "CREATE TABLE marts.cost_daily AS SELECT DATE '2026-11-01' + INTERVAL (i % 30) DAY AS day, "
            "'tenant-' || (i % 3) AS tenant_id, i * 0.25 AS cost_usd FROM range(100) t(i)"
        )
    return path
