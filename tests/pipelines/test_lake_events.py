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


def test_conform_fills_missing_optional_columns_and_casts() -> None:
    table = pa.Table.from_pylist([_row(input_tokens=5)])  # int64, most columns absent
    conformed = conform(table)
    assert conformed.schema.equals(EVENT_SCHEMA, check_metadata=False)
    assert conformed.column("input_tokens").to_pylist() == [5]
    assert conformed.column("tenant_id").to_pylist() == [None]


def test_conform_reads_both_schema_versions() -> None:
    v2 = _row(event_id="e2", schema_version=2, operation="embeddings", tool_calls=3, modalities=["text"])
    conformed = conform(pa.Table.from_pylist([v2, _row()]))  # the first row decides the inferred columns
    assert conformed.column("schema_version").to_pylist() == [2, 1]
    assert conformed.column("operation").to_pylist() == ["embeddings", None]
    assert conformed.column("tool_calls").to_pylist() == [3, None]
    assert conformed.column("modalities").to_pylist() == [["text"], None]


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        (pa.table({"a": [1]}), "missing required column(s) event_id, schema_version, ts"),
        (pa.Table.from_pylist([_row(schema_version=3)]), "schema_version [3] is not one of [1, 2]"),
        (pa.Table.from_pylist([_row(event_id=None)]), "column event_id has null values"),
        (pa.Table.from_pylist([_row(input_tokens="many")]), "column input_tokens: string does not cast"),
    ],
)
def test_conform_names_what_makes_a_file_foreign(table: pa.Table, reason: str) -> None:
    with pytest.raises(
        UnreadableObject,
        match=reason.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        conform(table)
