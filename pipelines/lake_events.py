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
    EVENTS_LAYOUT,
    EVENTS_PREFIX,
    QUARANTINE_PREFIX,
    event_day,
    quarantine_copy_path,
)
from gateway_shim.telemetry.schema import EVENT_SCHEMA, READABLE_VERSIONS
from gateway_shim.telemetry.storage import LakeLocation

OUTSIDE_LAYOUT = f"not in the events layout {EVENTS_LAYOUT}"


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
    """The table cast to EVENT_SCHEMA (an older version's missing columns as nulls);
    ``UnreadableObject`` naming the problem when it is not a readable schema version."""
    names = set(table.column_names)
    missing = [f.name for f in EVENT_SCHEMA if not f.nullable and f.name not in names]
    if missing:
        raise UnreadableObject(f"not an aigw event file: missing required column(s) {', '.join(missing)}")
    columns = []
    for field in EVENT_SCHEMA:
        if field.name not in names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise UnreadableObject(
                f"column {field.name}: {column.type} does not cast to {field.type}"
            ) from exc
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
        raise UnreadableObject(OUTSIDE_LAYOUT)
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
        raise UnreadableObject(OUTSIDE_LAYOUT)
    data = lake.read_bytes(obj.path)  # an I/O error fails the run: the object may be fine
    try:
        table = pq.read_table(pa.BufferReader(data), use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableObject(f"not a readable Parquet file: {exc}") from exc
    return conform(table)


def copy_to_quarantine(lake: LakeLocation, relative_path: str, reason: str) -> str:
    """Copy an object to ``quarantine/<its path>`` beside ``<path>.reason.txt``; returns the copy's path."""
    target = quarantine_copy_path(relative_path)
    lake.write_bytes(target, lake.read_bytes(relative_path))
    lake.write_bytes(f"{target}.reason.txt", f"{relative_path}: {reason}\n".encode())
    return target


def quarantine(lake: LakeLocation, relative_path: str, reason: str) -> str:
    """Move an object to quarantine (copy, then delete the original); returns its new path."""
    target = copy_to_quarantine(lake, relative_path, reason)
    lake.delete(relative_path)
    return target


def quarantined_objects(lake: LakeLocation) -> list[str]:
    """Paths (relative) of the objects waiting in quarantine, reason files excluded."""
    return [
        info.path for info in lake.list_objects(QUARANTINE_PREFIX) if not info.path.endswith(".reason.txt")
    ]
