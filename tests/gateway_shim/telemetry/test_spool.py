from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from gateway_shim.telemetry.columnar import to_record_batch
from gateway_shim.telemetry.schema import EVENT_SCHEMA, V2_COLUMNS
from gateway_shim.telemetry.spool import Spool, SpoolLocked, count_rows, read_segment
from tests.gateway_shim.telemetry.events import make_event


def batch_of(start: int, count: int) -> pa.RecordBatch:
    batch, _ = to_record_batch([make_event(i) for i in range(start, start + count)], "gw")
    return batch


def test_segments_survive_and_replay_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.open() == []
    first = spool.new_segment()
    first.append(batch_of(0, 10))
    assert first.sync() == 10
    sealed = first.seal()
    second = spool.new_segment()
    second.append(batch_of(10, 5))
    second.sync()
    second.close()
    spool.close()  # the second segment was never sealed, as after a kill -9

    again = Spool(tmp_path)
    leftovers = again.open()
    assert [(s.seq, s.rows) for s in leftovers] == [(0, 10), (1, 5)]
    assert leftovers[0].path == sealed.path
    assert read_segment(leftovers[1].path).column("event_id").to_pylist()[0] == "evt-00000010"
    third = again.new_segment()
    assert third.seq == 2
    third.seal()
    again.close()


def test_a_torn_tail_keeps_the_complete_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    segment = spool.new_segment()
    for start in (0, 10, 20):
        segment.append(batch_of(start, 10))
        segment.sync()
    size = segment.size
    segment.seal()
    spool.close()
    with open(segment.path, "r+b") as handle:
        handle.truncate(size - 40)
    assert count_rows(segment.path) == 20
    empty = tmp_path / "segments" / "000000000099-x.arrows"
    empty.write_bytes(b"")
    assert count_rows(empty) == 0


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
