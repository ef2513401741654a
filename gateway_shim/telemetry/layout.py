"""The lake's object names: Hive partitions by the event's hour, file names, gap and quarantine paths.

Pure functions: the same spool segment always maps to the same object names, so a segment replayed
after a crash overwrites what it may already have uploaded instead of duplicating it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

EVENTS_PREFIX = "events/v1"
GAPS_PREFIX = "gaps"
QUARANTINE_PREFIX = "quarantine/writer"
_US_PER_HOUR = 3_600_000_000
_NAMESPACE = uuid.UUID("6f1c2a52-3a43-4f4e-9a55-5d2b8f0e7c11")


@dataclass(frozen=True)
class HourPartition:
    """The rows of one ``dt=YYYY-MM-DD/hour=HH`` partition."""

    day: str
    hour: str
    table: pa.Table

    @property
    def prefix(self) -> str:
        return f"{EVENTS_PREFIX}/dt={self.day}/hour={self.hour}"


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


def quarantine_path(gateway_id: str, started_us: int) -> str:
    return f"{QUARANTINE_PREFIX}/{gateway_id}-{stamp(started_us)}-{uuid.uuid4().hex}.jsonl"
