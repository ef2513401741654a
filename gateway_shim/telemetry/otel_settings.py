"""Whether and where to export OpenTelemetry: the config's ``telemetry.otlp``, else the standard OTel
environment (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._HEADERS``, ``OTEL_SERVICE_NAME``). Free of the
OpenTelemetry SDK, so deciding costs nothing when export is off."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from gateway_shim.config.models import Config

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"


@dataclass(frozen=True)
class ExportSettings:
    """Resolved endpoints, headers and timings; ``source`` says where they came from (for the log)."""

    traces_url: str
    metrics_url: str
    headers: Mapping[str, str]
    service_name: str
    timeout_s: float = 10.0
    metric_interval_s: float = 60.0
    source: str = ""


def export_settings(config: Config, environ: Mapping[str, str] = os.environ) -> ExportSettings | None:
    """``None`` (export off) unless ``telemetry.otlp`` is configured or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    is set; ``OTEL_SDK_DISABLED=true`` turns it off either way. Headers from ``OTEL_EXPORTER_OTLP_HEADERS``
    (where secrets belong) are added to the config's."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    env_headers = parse_headers(environ.get(HEADERS_ENV, ""))
    otlp = config.telemetry.otlp
    if otlp is not None:
        return ExportSettings(f"{otlp.endpoint}/v1/traces", f"{otlp.endpoint}/v1/metrics",
                              {**otlp.headers, **env_headers}, otlp.service_name, otlp.timeout_s,
                              otlp.metric_interval_s, "config telemetry.otlp")
    base = environ.get(ENDPOINT_ENV, "").strip().rstrip("/")
    if not base:
        return None
    return ExportSettings(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{base}/v1/traces",
                          environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or f"{base}/v1/metrics",
                          env_headers, environ.get("OTEL_SERVICE_NAME") or "aigw", source=f"${ENDPOINT_ENV}")


def parse_headers(value: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values URL-encoded), as the OTLP exporter specification writes them."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        key, sep, raw = item.partition("=")
        if sep and key.strip():
            headers[key.strip().lower()] = urllib.parse.unquote(raw.strip())
    return headers
