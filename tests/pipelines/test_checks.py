"""unique_event_ids looks only at the ids of days loaded since it last passed, yet misses nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import Generator, small_lake, write_events

FAILED = "raw/events:unique_event_ids: 1 duplicated event_id(s)"


def test_a_copy_in_a_day_not_reloaded_is_found_and_the_check_stays_failed_until_fixed(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    first = run(lake, warehouse)
    assert first.success and not first.failed_checks
    assert first.metadata["raw/events"]["days_loaded"] == ["2026-11-13", "2026-11-14", "2026-11-15"]

    copy = dict(lake.events[0], ts=dt.datetime(2026, 11, 14, 9, tzinfo=dt.UTC))  # its id, another day
    [copy_path] = write_events(lake.location, [copy], "gw-b", "copy")
    second = run(lake, warehouse)
    assert second.metadata["raw/events"]["days_loaded"] == ["2026-11-14"]
    assert second.failed_checks == [FAILED]

    other = Generator(lake.v2, lake.v2).event(dt.datetime(2026, 11, 15, 9, tzinfo=dt.UTC))
    write_events(lake.location, [other], "gw-b", "other")
    third = run(lake, warehouse)
    assert third.metadata["raw/events"]["days_loaded"] == ["2026-11-15"]
    assert third.failed_checks == [FAILED]  # 11-14 is still in scope: the check has not passed since

    Path(lake.location.path(copy_path)).unlink()  # the copy removed: 11-14 is reloaded whole
    fourth = run(lake, warehouse)
    assert fourth.success and not fourth.failed_checks
