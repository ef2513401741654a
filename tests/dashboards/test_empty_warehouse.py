"""A missing, empty, half-built or unreadable warehouse: a notice naming the command, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.data import REQUIRED_MARTS
from tests.dashboards.conftest import PAGES


def _notice(at: AppTest) -> str:
    assert not at.exception, [e.value for e in at.exception]
    assert at.warning, "expected a warning naming the command to run"
    return at.warning[0].value


def _empty_marts(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for name in REQUIRED_MARTS:
            con.execute(f"CREATE TABLE marts.{name} (day DATE, cost_usd DOUBLE)")  # fixed names
    return path


def test_missing_warehouse_names_the_commands(open_app: Callable[[Path], AppTest], tmp_path: Path) -> None:
    at = open_app(tmp_path / "nowhere.duckdb")
    message = _notice(at)
    assert "No warehouse at" in message and "aigw demo" in message and "aigw pipeline" in message
    assert "aigw pipeline" in at.code[0].value


@pytest.mark.parametrize("page", PAGES[1:])
def test_every_page_gets_the_notice(open_app: Callable[[Path], AppTest], tmp_path: Path, page: str) -> None:
    at = open_app(tmp_path / "nowhere.duckdb").switch_page(page).run()
    assert "aigw demo" in _notice(at)


def test_a_warehouse_without_marts_asks_for_the_pipeline(
    open_app: Callable[[Path], AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "bare.duckdb"
    duckdb.connect(str(path)).close()
    message = _notice(open_app(path))
    assert "marts.cost_daily" in message and "aigw pipeline" in message


def test_marts_without_rows_say_empty(open_app: Callable[[Path], AppTest], tmp_path: Path) -> None:
    message = _notice(open_app(_empty_marts(tmp_path / "empty.duckdb")))
    assert "is empty" in message and "aigw demo" in message


def test_a_zero_byte_file_is_an_empty_warehouse(open_app: Callable[[Path], AppTest], tmp_path: Path) -> None:
    path = tmp_path / "zero.duckdb"
    path.touch()
    message = _notice(open_app(path))
    assert "empty file" in message and "aigw pipeline" in message


def test_a_file_that_is_not_a_warehouse_is_reported(
    open_app: Callable[[Path], AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "garbage.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    message = _notice(open_app(path))
    assert "Cannot open the warehouse" in message


def test_marts_of_another_shape_ask_for_a_rebuild(
    open_app: Callable[[Path], AppTest], tmp_path: Path
) -> None:
    path = _empty_marts(tmp_path / "old.duckdb")
    with duckdb.connect(str(path)) as con:
        # a row, but none of the columns the pages read (tenant_id, requests, ...)
        con.execute("INSERT INTO marts.cost_daily VALUES (DATE '2026-10-01', 1.0)")
    message = _notice(open_app(path))
    assert "do not have the shape" in message and "aigw pipeline" in message
