from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from gateway_shim.telemetry.columnar import to_record_batch
from gateway_shim.telemetry.schema import EVENT_SCHEMA, V2_COLUMNS
from gateway_shim.telemetry.spool import (
    JOURNAL_CHUNK_BYTES,
    OpenSegment,
    Spool,
    SpoolLocked,
    count_rows,
    delete_segment,
    encode_journal,
    read_segment,
)
from tests.gateway_shim.telemetry.events import make_event


def batch_of(start: int, count: int) -> pa.RecordBatch:
    batch, _ = to_record_batch([make_event(i) for i in range(start, start + count)], "gw")
    return batch


def append_events(segment: OpenSegment, events: list[dict[str, Any]]) -> None:
    good, lines, bad = encode_journal(events)
    assert not bad
    segment.append(good, b"".join(lines))


def events_of(start: int, count: int) -> list[dict[str, Any]]:
    return [make_event(i) for i in range(start, start + count)]


def test_segments_survive_and_replay_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.open() == []
    first = spool.new_segment()
    append_events(first, events_of(0, 10))
    assert first.sync() == 10
    sealed, bad = first.seal("gw")
    assert sealed is not None and bad == [] and sealed.path.name.endswith(".arrows")
    second = spool.new_segment()
    append_events(second, events_of(10, 5))
    second.sync()
    second.close()
    spool.close()  # the second segment was never sealed, as after a kill -9

    again = Spool(tmp_path)
    leftovers = again.open()
    assert [(s.seq, s.rows) for s in leftovers] == [(0, 10), (1, 5)]
    assert leftovers[0].path == sealed.path and leftovers[1].path.name.endswith(".jsonl")
    assert read_segment(leftovers[1].path).column("event_id").to_pylist()[0] == "evt-00000010"
    third = again.new_segment()
    assert third.seq == 2
    assert third.seal("gw") == (None, [])
    again.close()


def test_a_commit_converts_nothing_and_seal_converts_in_batches(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path)
    spool.open()
    segment = spool.new_segment()
    append_events(segment, events_of(0, 3))
    segment.sync()
    # a kill -9 now leaves the journal with its allocated space zeroed after the three lines
    assert segment.path.stat().st_size == JOURNAL_CHUNK_BYTES and count_rows(segment.path) == 3
    assert "torn" not in caplog.text, "allocated space is not a torn line"
    assert segment.unconverted == 3
    assert segment.convert("gw") == [] and segment.unconverted == 0
    append_events(segment, events_of(3, 2))
    sealed, _ = segment.seal("gw", keep_table=True)
    assert sealed is not None and sealed.table is not None
    assert sealed.table.column("event_id").to_pylist() == [f"evt-{i:08d}" for i in range(5)]
    assert read_segment(sealed.path).equals(sealed.table)
    assert sorted(path.name.split(".", 1)[1] for path in (tmp_path / "segments").iterdir()) == ["arrows"]
    spool.close()


def test_events_that_do_not_fit_are_returned_by_the_encoder_or_the_seal(tmp_path: Path) -> None:
    too_big = make_event(1, input_tokens=2**70)
    good, lines, bad = encode_journal([make_event(0), too_big])
    assert good == [make_event(0)] and len(lines) == 1 and bad[0][0] is too_big
    spool = Spool(tmp_path)
    spool.open()
    segment = spool.new_segment()
    append_events(segment, [make_event(2), make_event(3, status_code="teapot")])
    sealed, bad = segment.seal("gw")
    assert sealed is not None and sealed.rows == 1
    assert [event["event_id"] for event, _ in bad] == ["evt-00000003"]
    spool.close()


def test_a_torn_tail_keeps_the_complete_events(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path)
    spool.open()
    segment = spool.new_segment()
    for start in (0, 10, 20):
        append_events(segment, events_of(start, 10))
        segment.sync()
    segment.close()
    spool.close()
    journal = segment.path
    with open(journal, "r+b") as handle:
        handle.truncate(journal.stat().st_size - 40)
    assert count_rows(journal) == 29 and "ends in a torn line" in caplog.text
    assert read_segment(journal).num_rows == 29
    old = tmp_path / "segments" / "000000000098-x.arrows"
    with pa.ipc.new_stream(str(old), EVENT_SCHEMA) as stream:
        for start in (0, 10):
            stream.write_batch(batch_of(start, 10))
    with open(old, "r+b") as handle:
        handle.truncate(old.stat().st_size - 40)
    assert count_rows(old) == 10
    empty = tmp_path / "segments" / "000000000099-x.arrows"
    empty.write_bytes(b"")
    assert count_rows(empty) == 0


def test_a_crash_leaves_each_event_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    segment = spool.new_segment()
    append_events(segment, events_of(0, 4))
    segment.sync()
    journal_bytes = segment.path.read_bytes()
    sealed, _ = segment.seal("gw")
    assert sealed is not None
    segment.path.write_bytes(journal_bytes)  # killed after the rename, before the journal was deleted
    unfinished = spool.new_segment()
    append_events(unfinished, events_of(4, 2))
    unfinished.sync()
    unfinished.convert("gw")  # its Arrow file holds events 4 and 5, and so does its journal
    append_events(unfinished, events_of(6, 1))
    unfinished.append_table(pa.Table.from_batches([batch_of(7, 3)]))  # a burst: no journal line
    unfinished.sync()
    unfinished.append_table(pa.Table.from_batches([batch_of(10, 2)]))  # never synced, so never acknowledged
    unfinished.close()  # a disk error: what was not synced must not reach the lake
    stray = tmp_path / "segments" / "000000000099-gone.arrows.part"
    stray.write_bytes(b"ARROW1")  # an Arrow file without its journal (nothing acknowledged in it)
    spool.close()

    again = Spool(tmp_path)
    leftovers = again.open()
    again.close()
    assert [(s.path.name.split(".", 1)[1], s.rows) for s in leftovers] == [("arrows", 4), ("jsonl", 6)]
    replayed = read_segment(leftovers[1].path).column("event_id").to_pylist()
    assert sorted(replayed) == [f"evt-{i:08d}" for i in range(4, 10)]
    assert not stray.exists()
    delete_segment(leftovers[1].path)
    assert sorted(path.name.split(".", 1)[1] for path in (tmp_path / "segments").iterdir()) == ["arrows"]


def test_one_writer_per_spool(tmp_path: Path) -> None:
    owner = Spool(tmp_path)
    owner.open()
    with pytest.raises(SpoolLocked, match="in use"):
        Spool(tmp_path).open()
    owner.close()
    successor = Spool(tmp_path)
    successor.open()
    successor.close()


def test_outbox_file_is_kept_if_replaced_during_upload(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spool.put_outbox("gaps/a.json", b"v1")
    uploaded: dict[str, bytes] = {}

    def upload_while_replaced(relative: str, data: bytes) -> None:
        uploaded[relative] = data
        spool.put_outbox("gaps/a.json", b"v2")

    ((relative, path),) = spool.outbox()
    spool.upload_outbox_file(relative, path, upload_while_replaced)
    assert uploaded == {"gaps/a.json": b"v1"}
    ((relative, path),) = spool.outbox()
    spool.upload_outbox_file(relative, path, uploaded.__setitem__)
    assert uploaded == {"gaps/a.json": b"v2"} and spool.outbox() == []
    spool.close()


def test_a_v2_segment_spooled_before_input_images_replays_with_it_null(tmp_path: Path) -> None:
    old = pa.Table.from_batches([batch_of(0, 3)]).drop_columns(["input_images"])
    path = tmp_path / "000000000001-early.arrows"
    with pa.ipc.new_stream(str(path), old.schema) as stream:
        stream.write_table(old)
    table = read_segment(path)
    assert table.schema.equals(EVENT_SCHEMA, check_metadata=False)
    assert table.column("operation").to_pylist() == old.column("operation").to_pylist()
    assert table.column("input_images").null_count == 3


def test_a_segment_spooled_before_schema_v2_replays_with_the_new_columns_null(tmp_path: Path) -> None:
    old = pa.Table.from_batches([batch_of(0, 4)]).drop_columns(sorted(V2_COLUMNS))
    path = tmp_path / "000000000001-old.arrows"
    with pa.ipc.new_stream(str(path), old.schema) as stream:
        stream.write_table(old)
    table = read_segment(path)
    assert table.schema.equals(EVENT_SCHEMA, check_metadata=False)
    assert table.column("event_id").to_pylist() == old.column("event_id").to_pylist()
    assert table.column("operation").null_count == table.column("modalities").null_count == 4
