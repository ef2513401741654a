"""A local OTLP/HTTP receiver for the tests: a stdlib server on 127.0.0.1 that decodes what exporters
send (``ExportTraceServiceRequest``, ``ExportMetricsServiceRequest``) with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.helpers import LOCALHOST


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


class OtlpReceiver:
    """Keeps every decoded request; ``spans()`` and ``metric_points()`` flatten them."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self.bad_requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/v1/traces":
                    request, reply = ExportTraceServiceRequest(), ExportTraceServiceResponse()
                    target: list[Any] = receiver.traces
                elif self.path == "/v1/metrics":
                    request, reply = ExportMetricsServiceRequest(), ExportMetricsServiceResponse()
                    target = receiver.metrics
                else:
                    receiver.bad_requests += 1
                    self.send_error(404)
                    return
                request.ParseFromString(body)
                target.append(request)
                payload = reply.SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._http.request_queue_size = 64
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self._http.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        """Every span received: name, kind, ids (hex), times (ns), status code, attributes, resource."""
        found = []
        for request in list(self.traces):
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        found.append({
                            "name": span.name, "kind": span.kind, "trace_id": span.trace_id.hex(),
                            "parent": span.parent_span_id.hex(), "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano, "status": span.status.code,
                            "attributes": attributes(span.attributes), "resource": resource,
                        })
        return found

    def metric_points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name → (attributes, value) per data point: sums give their value, histograms
        (count, sum). Latest export wins for cumulative points (later requests come later)."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for request in list(self.metrics):
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        points: list[tuple[dict[str, Any], Any]] = []
                        if metric.HasField("sum"):
                            points = [(attributes(p.attributes), p.as_double or p.as_int)
                                      for p in metric.sum.data_points]
                        elif metric.HasField("histogram"):
                            points = [(attributes(p.attributes), (p.count, p.sum))
                                      for p in metric.histogram.data_points]
                        found[metric.name] = points
        return found

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)
