"""The exporter against a local OTLP/HTTP receiver: what arrives is decoded and checked field by field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import Config
from gateway_shim.telemetry.otel_export import OtelExporter
from gateway_shim.telemetry.otel_settings import ExportSettings, export_settings
from tests.gateway_shim.telemetry.events import BASE_TS, make_event
from tests.gateway_shim.telemetry.otlp_receiver import OtlpReceiver

KINDS = {"bedrock": "bedrock"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.close()


def settings(receiver: OtlpReceiver) -> ExportSettings:
    return ExportSettings(f"{receiver.url}/v1/traces", f"{receiver.url}/v1/metrics", {"x-team": "obs"},
                          "aigw-test", 5.0, 60.0, "test")


def test_each_event_becomes_one_span_and_metric_points(receiver: OtlpReceiver) -> None:
    exporter = OtelExporter(settings(receiver), "gw-7", KINDS, batch_interval_s=0.05).start()
    events = [make_event(i, ts_us=BASE_TS + i * 1000) for i in range(1, 4)]
    events.append(make_event(4, status_code=503, outcome="upstream_error", error_type="upstream_unavailable",
                             output_tokens=0, estimated_cost_usd=0.0, model_name=None, model_provider=None))
    for event in events:
        exporter.emit(event)
    exporter.close(10)

    spans = sorted(receiver.spans(), key=lambda s: s["trace_id"])
    assert [s["trace_id"] for s in spans] == [f"{i:032x}" for i in range(1, 5)]
    first = spans[0]
    assert first["name"] == "chat anthropic.claude-3-5-haiku-v1" and first["parent"] == ""
    assert first["start"] == (BASE_TS + 1000) * 1000 and first["end"] - first["start"] == 433_000_000
    assert first["attributes"]["gen_ai.usage.input_tokens"] == 101
    assert first["attributes"]["gen_ai.provider.name"] == "aws.bedrock"
    assert first["attributes"]["aigw.event_id"] == "evt-00000001"
    assert first["resource"]["service.name"] == "aigw-test"
    assert first["resource"]["service.instance.id"] == "gw-7"
    assert first["kind"] == 2  # SPAN_KIND_SERVER
    assert [s["status"] for s in spans] == [0, 0, 0, 2]  # unset ×3, then ERROR for the 503
    assert spans[3]["attributes"]["error.type"] == "upstream_unavailable"
    assert all(h.get("x-team") == "obs" for h in receiver.headers)

    points = receiver.metric_points()
    assert sum(v for _, v in points["aigw.requests"]) == 4
    assert {a["http.response.status_code"] for a, _ in points["aigw.requests"]} == {200, 503}
    tokens: dict[str, int] = {}
    for attrs, total in points["aigw.tokens"]:
        tokens[attrs["gen_ai.token.type"]] = tokens.get(attrs["gen_ai.token.type"], 0) + total
    assert tokens == {"input": 101 + 102 + 103 + 104, "output": 3 * 200}
    assert sum(v for _, v in points["aigw.cost"]) == pytest.approx(3 * 0.00052)
    assert sum(c for _, (c, _) in points["gen_ai.server.request.duration"]) == 4
    assert exporter.gauges()["aigw_otel_exported"] == [({}, 4.0)]


def test_a_full_backlog_drops_from_export_and_counts(receiver: OtlpReceiver) -> None:
    exporter = OtelExporter(settings(receiver), "gw", KINDS, batch_interval_s=60, max_backlog=2)
    for i in range(5):
        exporter.emit(make_event(i + 1))
    assert exporter.gauges()["aigw_otel_dropped"] == [({}, 3.0)]
    exporter.close(10)
    assert len(receiver.spans()) == 2


def test_export_is_off_unless_configured_or_in_the_environment() -> None:
    plain = load_config(DEMO_CONFIG)
    assert export_settings(plain, {}) is None
    from_env = export_settings(plain, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/",
                                       "OTEL_SERVICE_NAME": "gw-east",
                                       "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20s3cret,x-a=1"})
    assert from_env is not None and from_env.service_name == "gw-east"
    assert (from_env.traces_url, from_env.metrics_url) == ("http://127.0.0.1:4318/v1/traces",
                                                           "http://127.0.0.1:4318/v1/metrics")
    assert from_env.headers == {"authorization": "Bearer s3cret", "x-a": "1"}
    document = plain.model_dump(mode="json")
    document["telemetry"] = {"otlp": {"endpoint": "http://collector:4318/", "service_name": "aigw-prod"}}
    document["telemetry"]["otlp"]["headers"] = {"x-team": "obs"}
    configured = export_settings(Config.model_validate(document), {"OTEL_EXPORTER_OTLP_HEADERS": "x-key=k"})
    assert configured is not None and configured.headers == {"x-team": "obs", "x-key": "k"}
    assert (configured.traces_url, configured.metrics_url) == ("http://collector:4318/v1/traces",
                                                               "http://collector:4318/v1/metrics")
    assert export_settings(Config.model_validate(document), {"OTEL_SDK_DISABLED": "true"}) is None


def test_the_environment_endpoint_is_used(receiver: OtlpReceiver,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    resolved = export_settings(load_config(DEMO_CONFIG))
    assert resolved is not None
    exporter = OtelExporter(resolved, "gw", KINDS, batch_interval_s=0.05).start()
    exporter.emit(make_event(9))
    exporter.close(10)
    assert [s["trace_id"] for s in receiver.spans()] == [f"{9:032x}"]
    assert "aigw.requests" in receiver.metric_points()


def test_an_unreachable_collector_counts_lost_spans_and_never_raises() -> None:
    from tests.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    exporter = OtelExporter(ExportSettings(f"{url}/v1/traces", f"{url}/v1/metrics", {}, "aigw", 1.0, 60.0),
                            "gw", KINDS, batch_interval_s=0.05).start()
    exporter.emit(make_event(1))
    exporter.emit(make_event(2))
    exporter.close(2)
    assert exporter.gauges()["aigw_otel_dropped"] == [({}, 2.0)]
    assert exporter.gauges()["aigw_otel_exported"] == [({}, 0.0)]


def test_a_silent_collector_cannot_hold_up_the_shutdown() -> None:
    import socket
    import time

    from tests.helpers import LOCALHOST

    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind((LOCALHOST, 0))
        silent.listen(8)
        url = f"http://{LOCALHOST}:{silent.getsockname()[1]}"
        quick = ExportSettings(f"{url}/v1/traces", f"{url}/v1/metrics", {}, "aigw", 0.5, 60.0)
        exporter = OtelExporter(quick, "gw", KINDS, batch_interval_s=60).start()
        for i in range(3000):
            exporter.emit(make_event(i + 1))
        started = time.monotonic()
        exporter.close(1.0)
        assert time.monotonic() - started < 6
    gauges = exporter.gauges()
    assert gauges["aigw_otel_exported"] == [({}, 0.0)] and gauges["aigw_otel_dropped"] == [({}, 3000.0)]
