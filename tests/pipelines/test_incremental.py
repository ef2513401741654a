"""Marts maintained by day (or by the months of the changed days) equal a whole rebuild from the same lake."""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics.warehouse import connect_read_only
from pipelines.incremental import DayGrainedMart, maintain
from tests.pipelines.conftest import Built, run
from tests.pipelines.test_run import snapshot

BY_DAY = ("cost_daily", "slo_daily", "slo_monthly")


def test_the_late_run_rebuilt_only_the_late_day(built: Built) -> None:
    late_days = sorted(built.second.metadata["raw/events"]["days_loaded"])
    assert len(late_days) == 1
    for mart in BY_DAY:
        assert built.first.metadata[f"marts/{mart}"]["days_rebuilt"] == "all"
        assert built.second.metadata[f"marts/{mart}"]["days_rebuilt"] == late_days
    assert built.second.metadata["marts/slo_alerts"]["bucket_days_rebuilt"] == late_days
    assert built.second.metadata["marts/policy_drift"]["count_days_rebuilt"] == late_days


def test_marts_maintained_by_day_equal_a_whole_rebuild(built: Built, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.duckdb"
    outcome = run(built.lake, fresh)
    assert outcome.success, outcome.failures
    assert outcome.metadata["marts/cost_daily"]["days_rebuilt"] == "all"
    assert snapshot(built.warehouse) == snapshot(fresh)
    assert _daily_inputs(built.warehouse) == _daily_inputs(fresh)


def _daily_inputs(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    """The per-day tables slo_alerts and policy_drift are computed from, row for row."""
    with connect_read_only(warehouse) as connection:
        return {
            table: sorted(connection.sql(f"SELECT * FROM meta.{table}").fetchall(), key=repr)
            for table in ("slo_buckets", "drift_daily")
        }


def test_changed_reference_data_rebuilds_whole(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "wh.duckdb"
    copy.write_bytes(built.warehouse.read_bytes())
    with duckdb.connect(str(copy)) as connection:  # as if the price catalog changed
        connection.execute("UPDATE ref.pricing SET input_per_mtok = input_per_mtok * 2")
        connection.execute("DELETE FROM marts.cost_daily")
    with duckdb.connect(str(copy)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        done = maintain(connection, DayGrainedMart("cost_daily"))
        assert done.days_rebuilt is None
        (rows,) = connection.execute("SELECT count(*) FROM marts.cost_daily").fetchall()[0]
    assert rows == done.rows > 0
