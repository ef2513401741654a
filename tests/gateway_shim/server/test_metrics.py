"""Prometheus text from events."""

from __future__ import annotations

from gateway_shim.server.metrics import Metrics


def test_events_become_counters_and_histograms() -> None:
    metrics = Metrics()
    event = {"tenant_id": "acme", "latency_class": "standard", "model_name": "m", "outcome": "ok",
             "status_code": 200, "input_tokens": 10, "output_tokens": 5, "estimated_cost_usd": 0.25,
             "total_latency_ms": 30.0, "gateway_overhead_ms": 0.2, "fallback_used": True,
             "fallback_reason": "outage"}
    metrics.observe(event)
    metrics.observe({**event, "outcome": "throttled", "status_code": 429, "input_tokens": 0,
                     "output_tokens": 0, "estimated_cost_usd": 0.0, "fallback_used": False})
    metrics.wire_error(413, "request_too_large")
    text = metrics.render(lambda: {"aigw_telemetry_backlog": [({}, 3.0)]}).decode()
    assert 'aigw_requests_total{tenant="acme",lane="standard",model="m",outcome="ok",status="200"} 1' in text
    assert 'aigw_tokens_total{tenant="acme",lane="standard",model="m",direction="input"} 10' in text
    assert 'aigw_cost_usd_total{tenant="acme",lane="standard",model="m"} 0.250000000' in text
    assert ('aigw_request_duration_ms_bucket{tenant="acme",lane="standard",model="m",outcome="ok",'
            'le="50"} 1') in text
    assert 'aigw_gateway_overhead_ms_count{lane="standard"} 2' in text
    assert 'aigw_fallbacks_total{lane="standard",reason="outage"} 1' in text
    assert 'aigw_wire_errors_total{status="413",code="request_too_large"} 1' in text
    assert "aigw_telemetry_backlog 3" in text


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.observe({"tenant_id": 'a"b\\c', "status_code": 401, "outcome": "client_error"})
    assert 'tenant="a\\"b\\\\c"' in metrics.render(dict).decode()
