"""The sensor on new lake objects (the daily schedule behind it: pipelines/schedules.py).

It requests one run covering the partition range of the days that got new objects (late
files for an old day included); the raw asset then reloads only the days whose objects changed. New
policy snapshots or load-test summaries alone request a marts refresh.
"""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg

from pipelines.jobs import lake_job, refresh_job
from pipelines.lake_watch import WATCHED_PREFIXES, Cursor, changes_since
from pipelines.partitions import in_window, range_tags
from pipelines.resources import LakeResource


@dg.sensor(jobs=[lake_job, refresh_job], minimum_interval_seconds=60)
def lake_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    """Runs for the days that got new lake objects since the last tick."""
    location = lake.location()
    objects = [
        (info.path, info.mtime_ns) for watched in WATCHED_PREFIXES for info in location.list_objects(watched)
    ]
    changes = changes_since(objects, Cursor.loads(context.cursor))
    days = sorted(day for day in changes.days if in_window(day))
    skipped = sorted(changes.days - set(days))
    if skipped:
        context.log.warning(f"{len(skipped)} day(s) outside the partition window skipped: {skipped[:5]}")
    run_key = f"lake-{changes.cursor.mtime_ns}"
    requests = []
    if days:
        requests.append(
            dg.RunRequest(run_key=run_key, job_name="lake_job", tags=range_tags(days[0], days[-1]))
        )
    elif changes.other_keys:
        requests.append(dg.RunRequest(run_key=run_key, job_name="refresh_job"))
    return dg.SensorResult(run_requests=requests, cursor=changes.cursor.dumps())

