"""The daily schedule: a safety net behind the sensor."""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# at definition time and cannot resolve strings.

import datetime as dt

import dagster as dg

from pipelines.jobs import lake_job
from pipelines.partitions import range_tags


@dg.schedule(cron_schedule="30 0 * * *", job=lake_job, execution_timezone="UTC")
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every day at 00:30 UTC: yesterday and today, catching anything the sensor missed."""
    today = (context.scheduled_execution_time or dt.datetime.now(dt.UTC)).date()
    return dg.RunRequest(tags=range_tags(today - dt.timedelta(days=1), today))
