"""The lake's layout, in one place: its top-level prefixes, the events' hourly partitions, object names.

Everything that writes or reads the lake (the writer, the simulator, the pipelines, the budget seed,
the load tests, the benchmarks) takes its paths from here, so a layout change is one edit.

Pure functions: the same spool segment always maps to the same object names, so a segment replayed
after a crash overwrites what it may already have uploaded instead of duplicating it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

EVENTS_PREFIX = "events/v1"
"""Event files: ``events/v1/dt=YYYY-MM-DD/hour=HH/<gateway_id>-<start>-<uuid>.parquet``. ``v1`` names
the layout; schema v1 and v2 files share it (each row's ``schema_version`` says which)."""
GAPS_PREFIX = "gaps"
"""The writer's records of events it had to drop."""
POLICIES_PREFIX = "policies"
"""One snapshot per policy version: ``policies/<version>.json``."""
LOADTESTS_PREFIX = "loadtests"
LOAD_TEST_RUN_PREFIX = "lt-"
"""Every load-test run id starts with this (``aigw loadtest``, Locust's web UI): the cost marts and
budget seeding leave such events out, so load traffic against a real gateway is never tenant spend."""
"""One folder per load-test run: ``loadtests/<run_id>/summary.json``, Locust's CSVs, the run's own lake."""
QUARANTINE_PREFIX = "quarantine"
"""Everything set aside as unusable; the pipelines keep each object's lake path below it."""
WRITER_QUARANTINE_PREFIX = f"{QUARANTINE_PREFIX}/writer"
"""The part of the quarantine the lake writer fills: events and spool segments that fit no event schema."""
EVENTS_LAYOUT = f"{EVENTS_PREFIX}/dt=YYYY-MM-DD/hour=HH/*.parquet"
"""The event files' layout, as people read it (in messages)."""
OUTSIDE_LAYOUT = f"not in the events layout {EVENTS_LAYOUT}"

QUARANTINE_REASON_SUFFIX = ".reason.txt"
"""Beside each quarantined copy, ``<copy>.reason.txt`` says why it was set aside."""

_EVENT_OBJECT = re.compile(
    rf"^{re.escape(EVENTS_PREFIX)}/dt=(\d{{4}}-\d{{2}}-\d{{2}})/hour=(\d{{2}})/[^/]+\.parquet$"
)
_LOADTEST_SUMMARY = "summary.json"
_US_PER_HOUR = 3_600_000_000
_NAMESPACE = uuid.UUID("6f1c2a52-3a43-4f4e-9a55-5d2b8f0e7c11")


def day_prefix(day: dt.date | str) -> str:
    """``events/v1/dt=YYYY-MM-DD``: one day's partition."""
    return f"{EVENTS_PREFIX}/dt={day}"


def hour_prefix(day: dt.date | str, hour: int | str) -> str:
    """``events/v1/dt=YYYY-MM-DD/hour=HH``: one hour's partition."""
    return f"{day_prefix(day)}/hour={int(hour):02d}"


def layout_problem(relative_path: str) -> str | None:
    """Why ``relative_path`` is not an event object's place (outside the layout, ``hour=99``), or None."""
    match = _EVENT_OBJECT.match(relative_path)
    if match is None:
        return OUTSIDE_LAYOUT
    try:
        dt.date.fromisoformat(match.group(1))
    except ValueError:
        return f"partition dt={match.group(1)} is not a date"
    if int(match.group(2)) > 23:
        return f"partition hour={match.group(2)} is not an hour (00-23)"
    return None


def event_day(relative_path: str) -> dt.date | None:
    """The day of an event file's partition, or None when the path or a partition value is invalid."""
    if layout_problem(relative_path) is not None:
        return None
    return dt.date.fromisoformat(relative_path.split("/")[2][3:])


def event_hour_start(relative_path: str) -> dt.datetime:
    """The first instant of the object's ``dt``/``hour`` partition (the path must be in the layout)."""
    match = _EVENT_OBJECT.match(relative_path)
    assert match is not None, relative_path
    return dt.datetime.combine(dt.date.fromisoformat(match.group(1)), dt.time(int(match.group(2))), dt.UTC)


@dataclass(frozen=True)
class HourPartition:
    """The rows of one ``dt=YYYY-MM-DD/hour=HH`` partition."""

    day: str
    hour: str
    table: pa.Table

    @property
    def prefix(self) -> str:
        return hour_prefix(self.day, self.hour)


def stamp(ts_us: int) -> str:
    """A compact UTC time for object names: ``20261125T115012Z``."""
    return dt.datetime.fromtimestamp(ts_us / 1e6, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(ts_us: int) -> str:
    return dt.datetime.fromtimestamp(ts_us / 1e6, dt.UTC).isoformat(timespec="microseconds")


def hours_since_epoch(table: pa.Table) -> pa.Array:
    """Each row's hour (by ``ts``) as whole hours since the epoch: the partition it belongs to."""
    return pc.divide(table["ts"].cast(pa.int64()), _US_PER_HOUR)


def split_by_hour(table: pa.Table) -> Iterator[HourPartition]:
    """The table cut into its hourly partitions (by ``ts``), in time order."""
    if table.num_rows == 0:
        return
    hours = hours_since_epoch(table)
    if pc.count_distinct(hours).as_py() > 1:
        order = pc.sort_indices(hours)
        table, hours = table.take(order), hours.take(order)
    counts = pc.value_counts(hours)
    offset = 0
    for hour_key, count in zip(
        counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
    ):
        start = dt.datetime.fromtimestamp(hour_key * 3600, dt.UTC)
        yield HourPartition(start.strftime("%Y-%m-%d"), start.strftime("%H"), table.slice(offset, count))
        offset += count


def events_file_path(gateway_id: str, segment_name: str, partition: HourPartition) -> str:
    """``events/v1/dt=…/hour=…/<gateway_id>-<start>-<uuid>.parquet``; the uuid derives from the segment."""
    start = pc.min(partition.table["ts"]).cast(pa.int64()).as_py()
    key = uuid.uuid5(_NAMESPACE, f"{gateway_id}/{segment_name}/{partition.day}/{partition.hour}").hex
    return f"{partition.prefix}/{gateway_id}-{stamp(start)}-{key}.parquet"


def gap_path(gateway_id: str, started_us: int, gap_id: str) -> str:
    return f"{GAPS_PREFIX}/{gateway_id}-{stamp(started_us)}-{gap_id}.json"


def writer_quarantine_path(gateway_id: str, started_us: int) -> str:
    """Where the writer puts events that do not fit the schema (JSON lines with the reason)."""
    return f"{WRITER_QUARANTINE_PREFIX}/{gateway_id}-{stamp(started_us)}-{uuid.uuid4().hex}.jsonl"


def writer_quarantined_segment_path(gateway_id: str, segment_file_name: str) -> str:
    """Where the writer keeps a spool segment that cannot be turned into Parquet, as it is."""
    return f"{WRITER_QUARANTINE_PREFIX}/{gateway_id}-{segment_file_name}"


def quarantine_copy_path(relative_path: str) -> str:
    """Where the pipelines set an unusable object aside: its own path below ``quarantine/``."""
    return f"{QUARANTINE_PREFIX}/{relative_path}"


def policy_snapshot_path(policy_version: str) -> str:
    return f"{POLICIES_PREFIX}/{policy_version}.json"


def loadtest_run_prefix(run_id: str) -> str:
    """``loadtests/<run_id>``: a load-test run's report, artifacts and its gateway's own lake."""
    return f"{LOADTESTS_PREFIX}/{run_id}"


def loadtest_summary_path(run_id: str) -> str:
    return f"{loadtest_run_prefix(run_id)}/{_LOADTEST_SUMMARY}"


def is_loadtest_summary(relative_path: str) -> bool:
    """True for ``loadtests/<run_id>/summary.json`` (not for files deeper in a run's folder)."""
    parts = relative_path.split("/")
    return len(parts) == 3 and parts[0] == LOADTESTS_PREFIX and parts[2] == _LOADTEST_SUMMARY
