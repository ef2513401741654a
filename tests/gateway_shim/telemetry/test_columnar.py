from __future__ import annotations

import pyarrow as pa

from gateway_shim.telemetry.columnar import to_record_batch, ts_range
from gateway_shim.telemetry.schema import EVENT_SCHEMA, SCHEMA_VERSION
from tests.gateway_shim.telemetry.events import BASE_TS, make_event


def test_events_become_one_batch_of_the_schema() -> None:
    events = [make_event(i, BASE_TS + i) for i in range(20)]
    batch, bad = to_record_batch(events, "gw-a")
    assert bad == []
    assert batch.schema == EVENT_SCHEMA
    rows = batch.to_pylist()
    assert rows[7]["guardrail_actions"] == ["pii_redacted:email"]
    assert rows[7]["ts"] == pa.scalar(BASE_TS + 7, pa.timestamp("us", tz="UTC")).as_py()
    assert [r["event_id"] for r in rows] == [e["event_id"] for e in events]


def test_missing_keys_are_null_and_required_columns_are_filled() -> None:
    batch, bad = to_record_batch([{"tenant_id": "acme"}], "gw-a")
    row = batch.to_pylist()[0]
    assert bad == []
    assert row["tenant_id"] == "acme" and row["input_tokens"] is None and row["outcome"] is None
    assert row["gateway_id"] == "gw-a" and row["schema_version"] == SCHEMA_VERSION == 2
    assert len(row["event_id"]) == 36 and row["ts"] is not None


def test_a_malformed_event_is_set_aside_without_the_others() -> None:
    events = [make_event(0), make_event(1, input_tokens="many"), make_event(2)]
    batch, bad = to_record_batch(events, "gw-a")
    assert batch.column("event_id").to_pylist() == ["evt-00000000", "evt-00000002"]
    assert len(bad) == 1 and bad[0][0]["event_id"] == "evt-00000001"
    assert "int" in bad[0][1]


def test_ts_range_skips_events_without_integer_ts() -> None:
    assert ts_range([{"ts": 5}, {"ts": 3}, {"ts": None}, {}]) == (3, 5)
    assert ts_range([{}]) == (None, None)


def test_times_no_partition_can_hold_are_set_aside() -> None:
    nanoseconds = BASE_TS * 1000
    events = [make_event(0), make_event(1, ts=nanoseconds), make_event(2, ts=-5)]
    batch, bad = to_record_batch(events, "gw-a")
    assert batch.column("event_id").to_pylist() == ["evt-00000000"]
    assert [event["event_id"] for event, _ in bad] == ["evt-00000001", "evt-00000002"]
    assert "outside years 2000-2099" in bad[0][1]
