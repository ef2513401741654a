"""The raw layer: the lake's event objects → ``raw.events`` (daily partitions, one row per event_id).

Its SQL: ``analytics/sql/raw_events_*.sql``, with the bookkeeping in ``lake_files_*``,
``day_loads_*`` and ``quarantine_*`` (pipelines/loading.py runs them).
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import datetime as dt
import warnings

import dagster as dg
from dagster_shared.utils.warnings import BetaWarning

from pipelines.lake_events import list_event_objects
from pipelines.loading import load_days, loaded_manifest, refuse_wrong_lake
from pipelines.partitions import DAILY
from pipelines.resources import LakeResource, WarehouseResource


class RawEventsConfig(dg.Config):
    force: bool = False
    """Reload every day of the range, not only the days whose lake objects changed."""
    allow_empty: bool = False
    """Load a missing or event-less lake even though the warehouse holds data (a fresh start)."""


def _days(window: dg.TimeWindow) -> list[dt.date]:
    first, end = window.start.date(), window.end.date()
    return [first + dt.timedelta(days=i) for i in range((end - first).days)]


# BackfillPolicy is beta in Dagster 1.13; its warning would reach every `aigw pipeline` user.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
    _raw_events_asset = dg.asset(
        key=["raw", "events"],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw",
        kinds={"duckdb", "parquet"},
    )


@_raw_events_asset
def raw_events(
    context: dg.AssetExecutionContext,
    config: RawEventsConfig,
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """raw.events: the lake's events for the partition range, one row per event_id."""
    location = lake.location()
    days = _days(context.partition_time_window)
    objects = list_event_objects(location)
    with warehouse.build_connection() as connection:
        refuse_wrong_lake(location, objects, loaded_manifest(connection), allow_empty=config.allow_empty)
        report = load_days(location, connection, days, objects, force=config.force, log=context.log.info)
    return dg.MaterializeResult(
        metadata={
            "days_loaded": [d.isoformat() for d in report.days_loaded],
            "days_unchanged": len(report.days_unchanged),
            "rows_loaded": report.rows_loaded,
            "duplicates_dropped": report.duplicates_dropped,
            "quarantined": dg.MetadataValue.json(report.quarantined),
        }
    )
