"""Request contract parsing: bearer keys, W3C trace ids, x-aigw-* headers and body metadata."""

from __future__ import annotations

import pytest

from gateway_shim.server.errors import ApiError
from gateway_shim.server.request_contract import bearer_key, contract, trace_id


@pytest.mark.parametrize(("header", "expected"), [
    ("Bearer demo-acme", "demo-acme"),
    ("bearer   demo-acme  ", "demo-acme"),
    ("Basic Zm9vOmJhcg==", None),
    ("Bearer", None),
    ("", None),
])
def test_bearer_key(header: str, expected: str | None) -> None:
    assert bearer_key({"authorization": header}) == expected


def test_traceparent_is_honoured_when_valid() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert trace_id({"traceparent": tp}) == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("bad", ["garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "00-xyz-1-01"])
def test_invalid_traceparent_gets_a_fresh_trace_id(bad: str) -> None:
    generated = trace_id({"traceparent": bad})
    assert len(generated) == 32 and int(generated, 16) != 0
    assert generated != trace_id({"traceparent": bad})


def test_headers_win_over_metadata() -> None:
    fields = contract({"x-aigw-workflow": "ai-search", "x-aigw-retrieval-ms": "12.5"},
                      {"workflow": "other", "app": "checkout-assistant", "run_id": "r1"})
    assert fields == {"workflow": "ai-search", "app_id": "checkout-assistant", "run_id": "r1",
                      "retrieval_ms": 12.5}


@pytest.mark.parametrize(("headers", "metadata"), [
    ({}, ["not", "a", "dict"]),
    ({}, {"workflow": 5}),
    ({"x-aigw-retrieval-ms": "soon"}, None),
    ({"x-aigw-retrieval-ms": "nan"}, None),
    ({}, {"retrieval_ms": True}),
    ({"x-aigw-app": "a" * 300}, None),
])
def test_bad_contract_values_are_400(headers: dict[str, str], metadata: object) -> None:
    with pytest.raises(ApiError) as caught:
        contract(headers, metadata)
    assert caught.value.status == 400
