"""The hand-written OTLP encoding, decoded by opentelemetry-proto's generated classes."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gateway_shim.telemetry.otlp_wire import SpanEncoder, trace_request
from tests.gateway_shim.telemetry.otlp_receiver import attributes

EDGE_CASES = {
    "short": "x", "long": "é" * 300, "empty": "", "yes": True, "no": False, "zero": 0, "big": 2**62,
    "negative": -5, "float": 0.1, "negative.float": -1e300, "list": ["a", "b" * 200], "empty.list": [],
}


def decoded(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def test_every_attribute_type_round_trips_and_repeats_come_from_the_cache() -> None:
    encoder = SpanEncoder()
    spans = [encoder.span(2**128 - 1, 2**64 - 1, "chat " + "m" * 200, 1, 2**63, EDGE_CASES, error=i == 1)
             for i in range(2)]
    request = decoded(trace_request({"service.name": "aigw", "service.instance.id": "gw-1"}, "scope", spans))
    resource_spans = request.resource_spans[0]
    assert attributes(resource_spans.resource.attributes) == {"service.name": "aigw",
                                                              "service.instance.id": "gw-1"}
    assert resource_spans.scope_spans[0].scope.name == "scope"
    first, second = resource_spans.scope_spans[0].spans
    assert attributes(first.attributes) == EDGE_CASES
    assert first.trace_id == b"\xff" * 16 and first.span_id == b"\xff" * 8
    assert first.name == "chat " + "m" * 200 and first.kind == 2
    assert (first.start_time_unix_nano, first.end_time_unix_nano) == (1, 2**63)
    assert (first.status.code, second.status.code) == (0, 2)
    assert encoder.attribute("short", "x") is encoder.attribute("short", "x")


def test_many_spans_fit_one_request() -> None:
    encoder = SpanEncoder()
    spans = [encoder.span(i + 1, i + 1, "chat", i, i + 1, {"aigw.event_id": f"e{i}"}, False)
             for i in range(3000)]
    request = decoded(trace_request({}, "s", spans))
    got = request.resource_spans[0].scope_spans[0].spans
    assert len(got) == 3000 and attributes(got[2999].attributes) == {"aigw.event_id": "e2999"}
