"""OpenTelemetry export through a real `aigw serve`: every request's event reaches a local OTLP receiver
as one span (its trace id, gen_ai attributes) and as metric points, and the lake still gets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway_shim.server.stack import (
    TEST_CONFIG,
    ProviderProcess,
    call,
    chat,
    start_gateway,
    traceparent,
)
from tests.gateway_shim.telemetry.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.slow


def test_served_and_refused_requests_arrive_as_spans_and_metrics(tmp_path: Path,
                                                                 provider: ProviderProcess) -> None:
    receiver = OtlpReceiver()
    config = TEST_CONFIG.read_text() + f"""
telemetry:
  otlp:
    endpoint: {receiver.url}
    service_name: aigw-test
    metric_interval_s: 1
"""
    try:
        gateway = start_gateway(tmp_path, provider, config_text=config, gateway_id="otel-gw")
        try:
            traces = [f"{i + 1:032x}" for i in range(3)]
            for trace in traces[:2]:
                answer = call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=8),
                              headers=traceparent(trace))
                assert answer.status == 200
            refused = call(f"{gateway.url}/v1/chat/completions", chat(), key="wrong",
                           headers=traceparent(traces[2]))
            assert refused.status == 401
            assert receiver.wait_for(lambda: "aigw.requests" in receiver.metric_points())
            assert "aigw_otel_exported" in gateway.metrics()
        finally:
            assert gateway.stop() == 0
        assert "exporting OpenTelemetry spans and metrics (config telemetry.otlp)" in gateway.log.read_text()
        spans = {span["trace_id"]: span for span in receiver.spans()}
        events = {event["trace_id"]: event for event in gateway.events()}
        assert set(spans) == set(events) == set(traces)
        for trace, span in spans.items():
            event = events[trace]
            assert span["attributes"]["aigw.event_id"] == event["event_id"]
            assert span["attributes"]["http.response.status_code"] == event["status_code"]
            assert span["resource"]["service.instance.id"] == "otel-gw"
        served = spans[traces[0]]["attributes"]
        assert served["gen_ai.response.model"] == events[traces[0]]["model_name"]
        assert served["gen_ai.usage.output_tokens"] == events[traces[0]]["output_tokens"] > 0
        assert spans[traces[2]]["attributes"]["error.type"] == "invalid_api_key"
        points = receiver.metric_points()
        assert sum(v for _, v in points["aigw.requests"]) == 3
        cost = sum(v for _, v in points["aigw.cost"])
        assert cost == pytest.approx(sum(e["estimated_cost_usd"] for e in events.values()))
        assert receiver.bad_requests == 0
    finally:
        receiver.close()


def test_configured_export_without_a_reachable_collector_does_not_affect_serving(
        tmp_path: Path, provider: ProviderProcess) -> None:
    from tests.helpers import free_port

    config = TEST_CONFIG.read_text() + f"""
telemetry:
  otlp: {{endpoint: "http://127.0.0.1:{free_port()}", timeout_s: 1}}
"""
    gateway = start_gateway(tmp_path, provider, config_text=config, gateway_id="otel-down")
    try:
        for _ in range(3):
            assert call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=8)).status == 200
    finally:
        assert gateway.stop() == 0
    assert len(gateway.events()) == 3
