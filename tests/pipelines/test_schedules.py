"""The daily schedule: yesterday and today, whatever the sensor saw."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.schedules import daily_schedule


def test_schedule_covers_yesterday_and_today() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 20, 0, 30, tzinfo=dt.UTC)
    )
    request = daily_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-19"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-20"
