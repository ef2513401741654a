"""The optional OpenTelemetry exporter: one span per request and the request, token, cost and duration
metrics, sent over OTLP/HTTP (protobuf) to the company's collector (docs/telemetry.md,
"OpenTelemetry export").

Off the request path: ``emit`` only appends the finished event to a bounded deque (full → the event
is dropped from export and counted; the lake still has it). A worker thread, every
``BATCH_INTERVAL_S``, turns the queued events into spans and metric points and posts the spans as
one OTLP request; the SDK's periodic metric reader exports the metrics from its own thread. The
span carries the event's trace id (so it joins the caller's trace) and its exact start and end.

Cheap by construction (docs/performance.md, "OpenTelemetry export"): spans are written in protobuf
wire format directly (``otlp_wire``: the SDK's encoder alone cost 96 µs a span here); the counters
(requests, tokens, cost) are summed here per attribute set and read by the SDK once per export
through observable counters, so only the duration histogram is an SDK measurement per request.

Needs the ``otel`` extra (``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``); import
this module only when export is on (``otel_settings.export_settings`` decides without the SDK).
"""

from __future__ import annotations

import collections
import http.client
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from gateway_shim.config.models import Config
from gateway_shim.telemetry import otel_mapping
from gateway_shim.telemetry.background_thread import background_thread
from gateway_shim.telemetry.otel_settings import ExportSettings
from gateway_shim.telemetry.otlp_wire import SpanEncoder, trace_request

log = logging.getLogger("aigw.telemetry")

BATCH_INTERVAL_S = 0.2
MAX_BACKLOG = 100_000
MAX_SPANS_PER_REQUEST = 2048
SCOPE = "aigw.gateway"
WARN_EVERY_S = 60.0

Key = tuple[tuple[str, Any], ...]


class OtelExporter:
    """``emit(event)`` from the event loop; spans and metrics built and exported on other threads."""

    def __init__(self, settings: ExportSettings, gateway_id: str, provider_kinds: Mapping[str, str],
                 *, batch_interval_s: float = BATCH_INTERVAL_S, max_backlog: int = MAX_BACKLOG) -> None:
        self.settings = settings
        self._kinds = dict(provider_kinds)
        self._interval = batch_interval_s
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._max_backlog = max_backlog
        self.dropped = 0
        self.exported = 0
        self.failed = 0
        resource = {"service.name": settings.service_name, "service.instance.id": gateway_id}
        self._encoder = SpanEncoder()
        self._ids = RandomIdGenerator()
        self._poster = _Poster(settings.traces_url, settings.headers, settings.timeout_s)
        self._resource = resource
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=settings.metrics_url, headers=dict(settings.headers),
                               timeout=settings.timeout_s),
            export_interval_millis=settings.metric_interval_s * 1000)
        self._meter_provider = MeterProvider(resource=Resource.create(resource), metric_readers=[reader])
        meter = self._meter_provider.get_meter(SCOPE)
        self._lock = threading.Lock()
        self._requests: dict[Key, float] = {}
        self._tokens: dict[Key, float] = {}
        self._cost: dict[Key, float] = {}
        meter.create_observable_counter("aigw.requests", [self._observe(self._requests)], unit="{request}",
                                        description="Requests handled, by outcome and status")
        meter.create_observable_counter("aigw.tokens", [self._observe(self._tokens)], unit="{token}",
                                        description="Input and output tokens (gen_ai.token.type)")
        meter.create_observable_counter("aigw.cost", [self._observe(self._cost)], unit="USD",
                                        description="Estimated cost at the price of the request's day")
        self._duration = meter.create_histogram("gen_ai.server.request.duration", unit="s",
                                                description="Request received to last byte sent")
        self._stop = threading.Event()
        self._thread = background_thread(self._run, "aigw-otel")

    def start(self) -> OtelExporter:
        self._thread.start()
        return self

    def emit(self, event: dict[str, Any]) -> None:
        """Queue the finished event (constant time; dropped and counted when the backlog is full)."""
        if len(self._queue) < self._max_backlog:
            self._queue.append(event)
        else:
            self.dropped += 1

    def gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """For ``/metrics``: spans delivered, events dropped (full backlog) or lost (collector
        unreachable), events still queued."""
        return {"aigw_otel_exported": [({}, float(self.exported))],
                "aigw_otel_dropped": [({}, float(self.dropped + self.failed))],
                "aigw_otel_backlog": [({}, float(len(self._queue)))]}

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued and flush the metrics, within about ``timeout_s`` (what is still
        queued then is counted as dropped), and shut down."""
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._export_batch(deadline)
        self.dropped += len(self._queue)
        self._queue.clear()
        millis = int(max(1.0, deadline - time.monotonic()) * 1000)
        try:
            self._meter_provider.force_flush(millis)
        finally:
            self._meter_provider.shutdown(timeout_millis=millis)
            self._poster.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._export_batch()
            except Exception:
                log.exception("exporting telemetry to OpenTelemetry failed")

    def _export_batch(self, deadline: float = float("inf")) -> None:
        queue = self._queue
        while queue and time.monotonic() < deadline:
            spans: list[bytes] = []
            while queue and len(spans) < MAX_SPANS_PER_REQUEST:
                spans.append(self._record(queue.popleft()))
            if self._poster.post(trace_request(self._resource, SCOPE, spans)):
                self.exported += len(spans)
            else:
                self.failed += len(spans)

    def _record(self, event: dict[str, Any]) -> bytes:
        """The event's metric points (summed here) and its encoded span."""
        kinds = self._kinds
        dims = tuple(otel_mapping.metric_attributes(event, kinds).items())
        with self._lock:
            key = (*dims, ("http.response.status_code", event.get("status_code") or 0))
            self._requests[key] = self._requests.get(key, 0) + 1
            for kind, column in (("input", "input_tokens"), ("output", "output_tokens")):
                tokens = event.get(column)
                if tokens:
                    key = (*dims, ("gen_ai.token.type", kind))
                    self._tokens[key] = self._tokens.get(key, 0) + tokens
            cost = event.get("estimated_cost_usd")
            if cost:
                self._cost[dims] = self._cost.get(dims, 0.0) + cost
        total_ms = event.get("total_latency_ms")
        if total_ms is not None:
            self._duration.record(total_ms / 1000.0, dict(dims))
        start, end = otel_mapping.span_times(event)
        return self._encoder.span(otel_mapping.trace_id_of(event) or self._ids.generate_trace_id(),
                                  self._ids.generate_span_id(), otel_mapping.span_name(event), start, end,
                                  otel_mapping.span_attributes(event, kinds), otel_mapping.is_error(event))

    def _observe(self, totals: dict[Key, float]) -> Any:
        """A callback reporting the cumulative totals, one observation per attribute set."""
        def observe(options: CallbackOptions) -> list[Observation]:
            with self._lock:
                return [Observation(value, dict(key)) for key, value in totals.items()]
        return observe


class _Poster:
    """POSTs OTLP protobuf bodies over one kept-alive connection; a failed post is retried once on a
    new connection, then reported (the log warns at most once a minute)."""

    def __init__(self, url: str, headers: Mapping[str, str], timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port
        self._path = parts.path or "/"
        self._timeout = timeout_s
        self._headers = {**headers, "content-type": "application/x-protobuf"}
        self._conn: http.client.HTTPConnection | None = None
        self._warned_at = float("-inf")
        self.url = url

    def post(self, body: bytes) -> bool:
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request("POST", self._path, body, self._headers)
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
                if response.status < 500 and response.status != 429:
                    break
            except (OSError, http.client.HTTPException) as exc:
                problem = str(exc) or type(exc).__name__
                self.close()
            if attempt == 1:
                time.sleep(0.05)
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("OpenTelemetry: spans not delivered to %s: %s", self.url, problem)
        return False

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                         context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def provider_kinds(config: Config) -> dict[str, str]:
    return {name: provider.kind for name, provider in config.providers.items()}
