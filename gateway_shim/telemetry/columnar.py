"""Event dicts to Arrow record batches, column by column (the writer's one per-event cost).

A batch is converted in one pass per column; only when that fails is it split event by event, so
one malformed event is set aside (quarantined) without costing the others.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gateway_shim.telemetry.schema import EVENT_SCHEMA, SCHEMA_VERSION

Event = dict[str, Any]

CHUNK_ROWS = 1024
TS_MIN_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
TS_MAX_US = 4_102_444_800_000_000  # 2100-01-01T00:00:00Z
_FIELDS = tuple((field.name, field.type) for field in EVENT_SCHEMA)
_ALL_VALUES = itemgetter(*(name for name, _ in _FIELDS))
_TS_INDEX = EVENT_SCHEMA.get_field_index("ts")
_REQUIRED = frozenset(("event_id", "schema_version", "ts", "gateway_id"))
_COLUMN_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


def _fill_required(name: str, values: list[Any], gateway_id: str) -> None:
    """Columns the schema forbids to be null get a value the writer can vouch for."""
    make: dict[str, Callable[[], Any]] = {
        "event_id": lambda: str(uuid.uuid4()),
        "schema_version": lambda: SCHEMA_VERSION,
        "ts": lambda: time.time_ns() // 1000,
        "gateway_id": lambda: gateway_id,
    }
    for i, value in enumerate(values):
        if value is None:
            values[i] = make[name]()


def _columns(events: Sequence[Event]) -> list[Sequence[Any]]:
    """The values column by column: one C-level lookup per event when it has every key (the gateway's
    events do), ``dict.get`` per column otherwise."""
    try:
        rows = list(map(_ALL_VALUES, events))
    except KeyError:
        return [[event.get(name) for event in events] for name, _ in _FIELDS]
    return list(zip(*rows, strict=True)) if rows else [[] for _ in _FIELDS]


def _convert(events: Sequence[Event], gateway_id: str) -> pa.RecordBatch:
    arrays = []
    for (name, kind), values in zip(_FIELDS, _columns(events), strict=True):
        if name in _REQUIRED and None in values:
            values = list(values)
            _fill_required(name, values, gateway_id)
        arrays.append(pa.array(values, type=kind))
    _check_ts(arrays[_TS_INDEX])
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def _check_ts(ts: pa.Array) -> None:
    """Reject times no partition can hold (microseconds mistaken for nanoseconds, say)."""
    if len(ts) == 0:
        return
    bounds = pc.min_max(ts.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low < TS_MIN_US or high >= TS_MAX_US:
        raise ValueError(f"ts {low if low < TS_MIN_US else high} µs is outside years 2000-2099")


def to_record_batch(
    events: Sequence[Event], gateway_id: str
) -> tuple[pa.RecordBatch, list[tuple[Event, str]]]:
    """The events as one batch of ``EVENT_SCHEMA``, and the ones that do not fit it with the reason."""
    try:
        return _convert(events, gateway_id), []
    except _COLUMN_ERRORS:
        pass
    good: list[Event] = []
    bad: list[tuple[Event, str]] = []
    for event in events:
        try:
            _convert([event], gateway_id)
        except _COLUMN_ERRORS as exc:
            bad.append((event, f"{type(exc).__name__}: {exc}"))
        else:
            good.append(event)
    return _convert(good, gateway_id), bad


def to_table(events: Sequence[Event], gateway_id: str) -> tuple[pa.Table, list[tuple[Event, str]]]:
    """``to_record_batch`` over slices of ``CHUNK_ROWS`` events, as one table.

    Reading one column from thousands of row dicts misses the CPU caches; slices of about a
    thousand events convert twice as fast per event as one big batch.
    """
    batches: list[pa.RecordBatch] = []
    bad: list[tuple[Event, str]] = []
    for start in range(0, len(events), CHUNK_ROWS):
        batch, rejected = to_record_batch(events[start : start + CHUNK_ROWS], gateway_id)
        batches.append(batch)
        bad.extend(rejected)
    return pa.Table.from_batches(batches, schema=EVENT_SCHEMA), bad


def ts_range(events: Sequence[Event]) -> tuple[int | None, int | None]:
    """First and last integer ``ts`` among ``events`` (for gap records)."""
    stamps = [ts for event in events if isinstance(ts := event.get("ts"), int)]
    return (min(stamps), max(stamps)) if stamps else (None, None)
