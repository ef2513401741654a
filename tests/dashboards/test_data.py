"""The cached read-only access: a swapped-in warehouse is picked up, and the file is never locked."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
from streamlit.testing.v1 import AppTest

from dashboards import data
from dashboards import formatting as fmt
from tests.dashboards import fake_marts


def _spend(path: Path, month: str) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "SELECT sum(cost_usd) FROM marts.showback_monthly WHERE strftime(month, '%Y-%m') = ?", [month]
        ).fetchone()
    assert row is not None
    return fmt.money(float(row[0]))


def test_a_pipeline_swapping_the_file_is_seen_on_the_next_rerun(
    open_app: Callable[[Path], AppTest], tmp_path: Path
) -> None:
    live = fake_marts.build(tmp_path / "warehouse.duckdb", start=date(2026, 9, 1), days=31, seed=1)
    at = open_app(live)
    before = _spend(live, "2026-09")
    assert at.metric[0].value == before
    rebuilt = fake_marts.build(tmp_path / "next.duckdb", start=date(2026, 9, 1), days=31, seed=2, scale=3.0)
    os.replace(rebuilt, live)  # what the pipeline does: build aside, swap atomically
    at.run()
    after = _spend(live, "2026-09")
    assert after != before
    assert at.metric[0].value == after


def test_the_dashboard_never_holds_a_write_lock(marts_warehouse: Path) -> None:
    snap = data.snapshot(marts_warehouse)
    assert snap is not None
    assert data.problem(snap) is None
    # Another reader (an analyst, `aigw sql`) opens the same file while the dashboard's connection is cached.
    with duckdb.connect(str(marts_warehouse), read_only=True) as other:
        assert other.execute("SELECT count(*) FROM marts.cost_daily").fetchone() == (
            int(data.query(snap, "cost_rows")["rows"].iloc[0]),
        )


def test_snapshot_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert data.snapshot(tmp_path / "absent.duckdb") is None
    assert "aigw demo" in (data.problem(None) or "")
