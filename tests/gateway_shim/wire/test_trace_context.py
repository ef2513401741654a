import re

from gateway_shim.wire.trace_context import new_trace_id, traceparent


def test_trace_ids_are_w3c_shaped_and_do_not_repeat() -> None:
    ids = [new_trace_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and i != "0" * 32 for i in ids)
    assert len(set(ids)) == len(ids)


def test_traceparent_carries_the_trace_with_a_fresh_span_each_call() -> None:
    trace = new_trace_id()
    first, second = traceparent(trace), traceparent(trace)
    assert first is not None and second is not None
    assert re.fullmatch(rf"00-{trace}-[0-9a-f]{{16}}-01", first)
    assert first != second
    assert first.split("-")[2] != "0" * 16


def test_no_traceparent_for_an_invalid_trace_id() -> None:
    assert traceparent("") is None
    assert traceparent("xyz") is None
    assert traceparent("A" * 32) is None
