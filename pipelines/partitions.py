"""Daily partitions on the lake's ``dt`` (the events' UTC day)."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

# The first day a partition can hold; events before it are reported, not loaded.
PARTITIONS_START = os.environ.get("AIGW_PARTITIONS_START", "2025-01-01")

# end_offset=1 includes today, so the current day's hourly files can be loaded as they land.
DAILY = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)


def day_key(day: dt.date) -> str:
    return day.isoformat()


def in_window(day: dt.date, today: dt.date | None = None) -> bool:
    """Whether ``day`` is a partition key right now (from PARTITIONS_START to today, UTC)."""
    today = today or dt.datetime.now(dt.UTC).date()
    return dt.date.fromisoformat(PARTITIONS_START) <= day <= today


def range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    """Run tags that make one run cover a partition range (BackfillPolicy.single_run)."""
    return {
        "dagster/asset_partition_range_start": day_key(first),
        "dagster/asset_partition_range_end": day_key(last),
    }
