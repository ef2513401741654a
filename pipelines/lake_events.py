"""The lake's event objects: listing them by day, reading one safely, and quarantining what cannot be read.

Each object is read whole and on its own, so one corrupt or foreign object is caught, moved to
``quarantine/`` with a reason file, and the rest of the day still loads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gateway_shim.telemetry.layout import (
    EVENTS_PREFIX,
    OUTSIDE_LAYOUT,
    QUARANTINE_PREFIX,
    QUARANTINE_REASON_SUFFIX,
    event_day,
    event_hour_start,
    layout_problem,
)
from gateway_shim.telemetry.quarantine import copy_to_quarantine
from gateway_shim.telemetry.schema import EVENT_SCHEMA, READABLE_VERSIONS, schema_problem
from gateway_shim.telemetry.storage import LakeLocation


class UnreadableObject(ValueError):
    """A lake object that is not a readable event file (schema v1 or v2); the message is the reason."""


@dataclass(frozen=True, slots=True)
class LakeObject:
    path: str  # relative to the lake root
    size: int
    mtime_ns: int
    dt: dt.date | None  # None: the path is not in the events layout

    @property
    def signature(self) -> tuple[str, int, int]:
        return (self.path, self.size, self.mtime_ns)


def list_event_objects(lake: LakeLocation) -> list[LakeObject]:
    """Every object under ``events/v1/``, with its day (or None when it does not belong there)."""
    return [
        LakeObject(info.path, info.size, info.mtime_ns, event_day(info.path))
        for info in lake.list_objects(EVENTS_PREFIX)
    ]


def by_day(objects: Iterable[LakeObject]) -> dict[dt.date, list[LakeObject]]:
    days: dict[dt.date, list[LakeObject]] = {}
    for obj in objects:
        if obj.dt is not None:
            days.setdefault(obj.dt, []).append(obj)
    return days


def changed_days(
    objects: Iterable[LakeObject], loaded: Iterable[tuple[dt.date, str, int, int]]
) -> set[dt.date]:
    """Days whose set of objects (path, size, mtime) differs from what the warehouse loaded."""
    current: dict[dt.date, set[tuple[str, int, int]]] = {}
    for obj in objects:
        if obj.dt is not None:
            current.setdefault(obj.dt, set()).add(obj.signature)
    before: dict[dt.date, set[tuple[str, int, int]]] = {}
    for day, path, size, mtime_ns in loaded:
        before.setdefault(day, set()).add((path, size, mtime_ns))
    return {day for day in current.keys() | before.keys() if current.get(day) != before.get(day)}


def conform(table: pa.Table) -> pa.Table:
    """The table in EVENT_SCHEMA's column order, absent optional columns filled with nulls;
    ``UnreadableObject`` naming the problem when it is not a readable schema version (a missing
    required column, an extra column, a column of another type: nothing is cast, so "0.5" never
    becomes 0.5 dollars)."""
    problem = schema_problem(table.schema)
    if problem is not None:
        raise UnreadableObject(problem)
    names = set(table.column_names)
    columns = [
        table.column(field.name).cast(field.type)  # only large_string -> string: the types match
        if field.name in names
        else pa.nulls(table.num_rows, field.type)
        for field in EVENT_SCHEMA
    ]
    conformed = pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)
    for name in ("event_id", "ts", "schema_version"):
        if conformed.column(name).null_count:
            raise UnreadableObject(f"column {name} has null values")
    versions = pc.unique(conformed.column("schema_version")).to_pylist()
    if any(v not in READABLE_VERSIONS for v in versions):
        raise UnreadableObject(f"schema_version {sorted(versions)} is not one of {list(READABLE_VERSIONS)}")
    return conformed


@dataclass(frozen=True, slots=True)
class Footer:
    rows: int
    exact: bool  # the columns are exactly the current schema's, in order (no filling or casting needed)


def check_footer(lake: LakeLocation, obj: LakeObject) -> Footer:
    """What the object's Parquet footer alone says; ``UnreadableObject`` when it is not an event
    file (not Parquet, a truncated footer, missing or incompatible columns)."""
    if obj.dt is None:
        raise UnreadableObject(layout_problem(obj.path) or OUTSIDE_LAYOUT)
    try:
        with lake.filesystem.open_input_file(lake.path(obj.path)) as handle:
            metadata = pq.ParquetFile(handle).metadata
            schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise UnreadableObject(f"not a readable Parquet file: {exc}") from exc
    conform(schema.empty_table())
    exact = [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in EVENT_SCHEMA]
    return Footer(int(metadata.num_rows), exact)


def read_event_object(lake: LakeLocation, obj: LakeObject) -> pa.Table:
    """One object's rows, read whole and conformed to the current schema (the careful, one-by-one path)."""
    if obj.dt is None:
        raise UnreadableObject(layout_problem(obj.path) or OUTSIDE_LAYOUT)
    data = lake.read_bytes(obj.path)  # an I/O error fails the run: the object may be fine
    try:
        table = pq.read_table(pa.BufferReader(data), use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableObject(f"not a readable Parquet file: {exc}") from exc
    conformed = conform(table)
    start = pa.scalar(event_hour_start(obj.path), EVENT_SCHEMA.field("ts").type)
    end = pa.scalar(event_hour_start(obj.path) + dt.timedelta(hours=1), EVENT_SCHEMA.field("ts").type)
    ts = conformed.column("ts")
    outside = pc.sum(pc.or_(pc.less(ts, start), pc.greater_equal(ts, end))).as_py() or 0
    if outside:
        raise UnreadableObject(f"{outside} row(s) with ts outside their partition dt/hour")
    return conformed


def quarantine(lake: LakeLocation, relative_path: str, reason: str) -> str:
    """Move an object to quarantine (copy, then delete the original); returns its new path."""
    target = copy_to_quarantine(lake, relative_path, reason)
    lake.delete(relative_path)
    return target


def quarantined_objects(lake: LakeLocation) -> list[str]:
    """Paths (relative) of the objects waiting in quarantine, reason files excluded."""
    return [
        info.path
        for info in lake.list_objects(QUARANTINE_PREFIX)
        if not info.path.endswith(QUARANTINE_REASON_SUFFIX)
    ]
