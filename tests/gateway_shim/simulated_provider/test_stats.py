"""The provider's own request counter: what each model received and how many answers were faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gateway_shim.simulated_provider.server import BackgroundProvider
from gateway_shim.simulated_provider.stats import RequestStats
from tests.gateway_shim.simulated_provider.conftest import control

HAIKU = "anthropic.claude-3-5-haiku-v1"


def test_counts_requests_and_faults_per_model_and_resets() -> None:
    ticks = iter([0.0, 86_400.0])
    stats = RequestStats(clock=lambda: next(ticks))
    stats.record("a", fault=False)
    stats.record("a", fault=True)
    stats.record("b", fault=False)
    assert stats.snapshot() == {"since": "1970-01-01T00:00:00Z", "models": {
        "a": {"requests": 2, "faults": 1}, "b": {"requests": 1, "faults": 0}}}
    assert stats.reset() == 3
    assert stats.snapshot() == {"since": "1970-01-02T00:00:00Z", "models": {}}


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def chat(url: str, model: str) -> int:
    return call(url, "POST", "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": "count me"}]})[0]


def converse(url: str, model: str) -> int:
    return call(url, "POST", f"/model/{model}/converse",
                {"messages": [{"role": "user", "content": [{"text": "count me"}]}]})[0]


def test_stats_endpoint_counts_both_wires_and_faults(provider: BackgroundProvider) -> None:
    url = provider.url
    assert call(url, "DELETE", "/_control/stats")[0] == 200
    assert chat(url, "gpt-4o-mini") == 200
    assert converse(url, HAIKU) == 200
    control(url, "POST", {"model": HAIKU, "outage": True})
    assert [converse(url, HAIKU), chat(url, HAIKU)] == [503, 503]
    control(url, "POST", {"model": "gpt-4o-mini", "throttle_rate": 1.0})
    assert chat(url, "gpt-4o-mini") == 429
    assert call(url, "POST", "/v1/chat/completions", {"messages": []})[0] == 400  # no model: not counted
    status, body = call(url, "GET", "/_control/stats")
    assert status == 200 and body["since"].endswith("Z")
    assert body["models"] == {HAIKU: {"requests": 3, "faults": 2},
                              "gpt-4o-mini": {"requests": 2, "faults": 1}}
    assert call(url, "DELETE", "/_control/stats") == (200, {"cleared": 5})
    assert call(url, "GET", "/_control/stats")[1]["models"] == {}


def test_stats_endpoint_refuses_other_methods(provider: BackgroundProvider) -> None:
    status, body = call(provider.url, "POST", "/_control/stats", {})
    assert status == 405 and "GET or DELETE" in body["error"]["message"]
