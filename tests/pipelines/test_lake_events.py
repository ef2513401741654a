"""Pure parts of reading the lake: the layout, which days changed, what counts as an event file."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from gateway_shim.telemetry.schema import EVENT_SCHEMA
from pipelines.lake_events import LakeObject, UnreadableObject, changed_days, conform

DAY = dt.date(2026, 11, 3)
PATH = "events/v1/dt=2026-11-03/hour=07/gw-a-1.parquet"


def test_changed_days_sees_new_rewritten_and_vanished_objects() -> None:
    loaded = [(DAY, PATH, 10, 1), (dt.date(2026, 11, 4), "events/v1/dt=2026-11-04/hour=01/b.parquet", 5, 1)]
    same = [
        LakeObject(PATH, 10, 1, DAY),
        LakeObject("events/v1/dt=2026-11-04/hour=01/b.parquet", 5, 1, dt.date(2026, 11, 4)),
    ]
    assert changed_days(same, loaded) == set()
    rewritten = [LakeObject(PATH, 11, 2, DAY), same[1]]
    assert changed_days(rewritten, loaded) == {DAY}
    assert changed_days(same[:1], loaded) == {dt.date(2026, 11, 4)}
    late = [*same, LakeObject("events/v1/dt=2026-10-01/hour=01/c.parquet", 5, 9, dt.date(2026, 10, 1))]
    assert changed_days(late, loaded) == {dt.date(2026, 10, 1)}


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "event_id": "e1",
        "schema_version": 1,
        "ts": dt.datetime(2026, 11, 3, 7, tzinfo=dt.UTC),
    }
    row.update(overrides)
    return row


def _typed(row: dict) -> pa.Table:
    """One row with the event schema's types for the columns it has (the others absent)."""
    return pa.Table.from_pylist([row], schema=pa.schema([EVENT_SCHEMA.field(name) for name in row]))


def test_conform_fills_missing_optional_columns() -> None:
    table = _typed(_row(input_tokens=5))  # most columns absent
    conformed = conform(table)
    assert conformed.schema.equals(EVENT_SCHEMA, check_metadata=False)
    assert conformed.column("input_tokens").to_pylist() == [5]
    assert conformed.column("tenant_id").to_pylist() == [None]


def test_conform_reads_both_schema_versions() -> None:
    v2 = _typed(_row(event_id="e2", schema_version=2, operation="embeddings", tool_calls=3,
                     modalities=["text"]))
    conformed = conform(v2)
    assert conformed.column("schema_version").to_pylist() == [2]
    assert (conformed.column("operation").to_pylist(), conformed.column("tool_calls").to_pylist()) == (
        ["embeddings"], [3])
    assert conformed.column("modalities").to_pylist() == [["text"]]
    v1 = conform(_typed(_row()))  # a v1 file has none of v2's columns: they read as nulls
    assert v1.column("schema_version").to_pylist() == [1]
    assert (v1.column("operation").to_pylist(), v1.column("modalities").to_pylist()) == ([None], [None])


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        (pa.table({"a": [1]}), "missing required column(s) event_id, schema_version, ts"),
        (_typed(_row(schema_version=3)), "schema_version [3] is not one of [1, 2]"),
        (_typed(_row(event_id=None)), "column event_id has null values"),
        (_typed(_row()).append_column("input_tokens", pa.array(["many"])),
         "column input_tokens is string, event schema v2 says int32"),
        (_typed(_row()).append_column("prompt", pa.array(["x"])), "column(s) not in event schema v2: prompt"),
        (pa.Table.from_pylist([_row()]), "column schema_version is int64, event schema v2 says int16"),
    ],
)
def test_conform_names_what_makes_a_file_foreign(table: pa.Table, reason: str) -> None:
    with pytest.raises(
        UnreadableObject,
        match=reason.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        conform(table)
