"""Prometheus text exposition for ``GET /metrics``, fed from the one event each request produces.

Per request the server does a handful of dict increments (``observe``); all formatting happens at
scrape time. Label values come from the config (tenants, lanes, models) and the fixed outcome list,
so cardinality is bounded; an unknown tenant is ``""``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
OVERHEAD_BUCKETS_MS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 100)


class Histogram:
    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value


def _labels(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    parts = []
    for name, value in zip(names, values, strict=True):
        text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        parts.append(f'{name}="{text}"')
    return "{" + ",".join(parts) + "}"


def _le(value: float) -> str:
    return f"{value:g}"


class Metrics:
    """Counters and histograms of the gateway, rendered as Prometheus text on scrape."""

    KEY = ("tenant", "lane", "model", "outcome")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str, int], int] = {}
        self.tokens: dict[tuple[str, str, str, str], int] = {}
        self.cost: dict[tuple[str, str, str], float] = {}
        self.latency: dict[tuple[str, str, str, str], Histogram] = {}
        self.overhead: dict[str, Histogram] = {}
        self.fallbacks: dict[tuple[str, str], int] = {}
        self.wire_errors: dict[tuple[int, str], int] = {}
        self.handler_errors = 0

    def observe(self, event: Mapping[str, Any]) -> None:
        tenant = event.get("tenant_id") or ""
        lane = event.get("latency_class") or ""
        model = event.get("model_name") or ""
        outcome = event.get("outcome") or ""
        status = event.get("status_code") or 0
        key = (tenant, lane, model, outcome)
        rkey = (*key, status)
        self.requests[rkey] = self.requests.get(rkey, 0) + 1
        input_tokens = event.get("input_tokens") or 0
        output_tokens = event.get("output_tokens") or 0
        if input_tokens or output_tokens:
            ikey, okey = (tenant, lane, model, "input"), (tenant, lane, model, "output")
            self.tokens[ikey] = self.tokens.get(ikey, 0) + input_tokens
            self.tokens[okey] = self.tokens.get(okey, 0) + output_tokens
        cost = event.get("estimated_cost_usd") or 0.0
        if cost:
            ckey = (tenant, lane, model)
            self.cost[ckey] = self.cost.get(ckey, 0.0) + cost
        total = event.get("total_latency_ms")
        if total is not None:
            histogram = self.latency.get(key)
            if histogram is None:
                histogram = self.latency[key] = Histogram(LATENCY_BUCKETS_MS)
            histogram.observe(total)
        overhead = event.get("gateway_overhead_ms")
        if overhead is not None:
            histogram = self.overhead.get(lane)
            if histogram is None:
                histogram = self.overhead[lane] = Histogram(OVERHEAD_BUCKETS_MS)
            histogram.observe(overhead)
        if event.get("fallback_used"):
            fkey = (lane, event.get("fallback_reason") or "")
            self.fallbacks[fkey] = self.fallbacks.get(fkey, 0) + 1

    def wire_error(self, status: int, code: str) -> None:
        key = (status, code)
        self.wire_errors[key] = self.wire_errors.get(key, 0) + 1

    def render(self, gauges: Callable[[], Mapping[str, list[tuple[dict[str, str], float]]]]) -> bytes:
        """The exposition text; ``gauges`` adds point-in-time values (lanes, telemetry backlog)."""
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        family("aigw_requests_total", "counter", "LLM requests by tenant, lane, model, outcome and status.")
        for (tenant, lane, model, outcome, status), n in sorted(self.requests.items()):
            labels = _labels((*self.KEY, "status"), (tenant, lane, model, outcome, status))
            out.append(f"aigw_requests_total{labels} {n}")
        family("aigw_tokens_total", "counter", "Tokens by tenant, lane, model and direction.")
        for key, n in sorted(self.tokens.items()):
            out.append(f"aigw_tokens_total{_labels(('tenant', 'lane', 'model', 'direction'), key)} {n}")
        family("aigw_cost_usd_total", "counter", "Estimated cost in USD at the price of the day.")
        for ckey, usd in sorted(self.cost.items()):
            out.append(f"aigw_cost_usd_total{_labels(('tenant', 'lane', 'model'), ckey)} {usd:.9f}")
        self._histograms(out, "aigw_request_duration_ms", "Total request latency in milliseconds.",
                         self.KEY, dict(self.latency))
        self._histograms(out, "aigw_gateway_overhead_ms",
                         "Time spent in the gateway itself (not upstream, not queued), milliseconds.",
                         ("lane",), {(lane,): h for lane, h in self.overhead.items()})
        family("aigw_fallbacks_total", "counter", "Requests served by a fallback target, by lane and reason.")
        for fkey, n in sorted(self.fallbacks.items()):
            out.append(f"aigw_fallbacks_total{_labels(('lane', 'reason'), fkey)} {n}")
        family("aigw_wire_errors_total", "counter",
               "Requests refused before parsing (malformed HTTP, too large, too slow).")
        for (status, code), n in sorted(self.wire_errors.items()):
            out.append(f"aigw_wire_errors_total{_labels(('status', 'code'), (status, code))} {n}")
        family("aigw_handler_errors_total", "counter", "Unexpected errors caught by the server (bugs).")
        out.append(f"aigw_handler_errors_total {self.handler_errors}")
        for name, samples in gauges().items():
            family(name, "gauge", name.removeprefix("aigw_").replace("_", " ") + ".")
            for sample_labels, value in samples:
                text = _labels(tuple(sample_labels), tuple(sample_labels.values())) if sample_labels else ""
                out.append(f"{name}{text} {value:g}")
        return ("\n".join(out) + "\n").encode()

    @staticmethod
    def _histograms(out: list[str], name: str, help_: str, label_names: tuple[str, ...],
                    histograms: Mapping[Any, Histogram]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} histogram")
        for key, histogram in sorted(histograms.items()):
            cumulative = 0
            for bound, n in zip(histogram.bounds, histogram.counts, strict=False):
                cumulative += n
                out.append(f"{name}_bucket{_labels((*label_names, 'le'), (*key, _le(bound)))} {cumulative}")
            labels = _labels((*label_names, "le"), (*key, "+Inf"))
            out.append(f"{name}_bucket{labels} {histogram.count}")
            out.append(f"{name}_sum{_labels(label_names, key)} {histogram.total:.6f}")
            out.append(f"{name}_count{_labels(label_names, key)} {histogram.count}")
