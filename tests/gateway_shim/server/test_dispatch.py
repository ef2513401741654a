"""Upstream behaviours the simulated provider cannot produce, through the real server and the real core.

Streams that break midway, adapters that raise something unexpected, output blocked across two
chunks: the gateway runs in-process (real `HttpServer`, `GatewayApp`, `Gateway`) with scripted
`ProviderClient`s in place of the HTTP ones, and the official openai SDK as the client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from gateway_shim.config.loader import parse_config
from gateway_shim.core import Gateway
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.upstream.base import StreamChunk, UpstreamError, UpstreamRequest, UpstreamResult
from tests.gateway_shim.server.stack import TEST_CONFIG

CONFIG_TEXT = TEST_CONFIG.read_text().replace("__PROVIDER_PORT__", "9").replace(
    "  output_validation:\n    deny_patterns: []",
    "  output_validation:\n    deny_patterns:\n      - {name: secret-word, regex: FORBIDDEN}")


class Scripted:
    """A ProviderClient whose behaviour per model is set by the test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []
        self.closed_streams = 0

    async def complete(self, request: UpstreamRequest) -> UpstreamResult:
        self.calls.append(request.model)
        if request.model == "anthropic.claude-3-5-haiku-v1":
            raise RuntimeError("an adapter bug")
        return UpstreamResult("fine answer", 3, 2, "stop")

    async def stream(self, request: UpstreamRequest) -> AsyncIterator[StreamChunk]:
        self.calls.append(request.model)
        if request.model == "anthropic.claude-3-5-haiku-v1":
            return _pieces(["partial ", "answer "], UpstreamError("outage", 0, "connection dropped"))
        if request.model == "amazon.nova-lite-v1":
            return self._endless()
        return _pieces(["this is FORB", "IDDEN text", " and more"], None)

    async def aclose(self) -> None:
        return None

    async def _endless(self) -> AsyncIterator[StreamChunk]:
        try:
            for i in range(1000):
                await asyncio.sleep(0.01)
                yield StreamChunk(f"word{i} ")
        finally:
            self.closed_streams += 1


async def _pieces(texts: list[str], then: UpstreamError | None) -> AsyncIterator[StreamChunk]:
    for text in texts:
        yield StreamChunk(text)
    if then is not None:
        raise then
    yield StreamChunk("", "stop", 3, 4)


@dataclass
class InProcess:
    url: str
    events: list[dict[str, Any]]
    app: GatewayApp
    client: Scripted


@pytest.fixture(scope="module")
def gateway_in_process() -> Iterator[InProcess]:
    config = parse_config(CONFIG_TEXT)
    events: list[dict[str, Any]] = []
    client = Scripted("bedrock")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        gateway = Gateway(config, gateway_id="in-process", emit=events.append)
        clients = {name: client for name in config.providers}
        app = GatewayApp(config, gateway, clients, gateway_id="in-process")  # type: ignore[arg-type]
        server = HttpServer(app, Limits(), on_wire_error=app.wire_error, on_handler_error=app.handler_error)
        holder.update(app=app, server=server, port=await server.listen("127.0.0.1", 0))
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()),
                              daemon=True)
    thread.start()
    assert ready.wait(10)
    yield InProcess(f"http://127.0.0.1:{holder['port']}", events, holder["app"], client)
    asyncio.run_coroutine_threadsafe(holder["server"].drain(1), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="demo-acme", max_retries=0, timeout=10)


def _event(events: list[dict[str, Any]], trace: str) -> dict[str, Any]:
    """The request's one event; it is emitted just after the error frame the client may already have
    read, so wait for it (bounded)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["trace_id"] == trace for e in events):
        time.sleep(0.01)
    found = [e for e in events if e["trace_id"] == trace]
    assert len(found) == 1, found
    return found[0]


def test_an_adapter_bug_is_a_failed_attempt_and_falls_back(gateway_in_process: InProcess) -> None:
    with _sdk(gateway_in_process.url) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content == "fine answer"
    assert raw.headers["x-aigw-fallback"] == "true"
    event = _event(gateway_in_process.events, raw.headers["x-aigw-trace-id"])
    assert (event["attempts"], event["fallback_reason"], event["outcome"]) == (2, "error", "ok")
    assert gateway_in_process.app.metrics.handler_errors >= 1


def test_a_stream_broken_midway_ends_with_an_error_frame_and_a_502_event(
        gateway_in_process: InProcess) -> None:
    trace = "00000000000000000000000000000abc"
    with _sdk(gateway_in_process.url) as client:
        stream = client.chat.completions.create(
            model="anthropic.claude-3-5-haiku-v1", messages=[{"role": "user", "content": "hi"}],
            stream=True, extra_headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        received: list[str] = []
        with pytest.raises(openai.APIError) as broken:
            for chunk in stream:
                received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "partial answer "
    assert broken.value.code == "stream_interrupted"
    event = _event(gateway_in_process.events, trace)
    assert (event["status_code"], event["outcome"], event["error_type"]) == (502, "upstream_error",
                                                                            "stream_interrupted")
    assert event["streamed"] is True


def test_output_blocked_across_two_chunks_stops_the_stream(gateway_in_process: InProcess) -> None:
    trace = "00000000000000000000000000000def"
    with _sdk(gateway_in_process.url) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        received: list[str] = []
        with pytest.raises(openai.APIError) as blocked:
            for chunk in stream:
                received.extend(c.delta.content or "" for c in chunk.choices)
    assert "FORBIDDEN" not in "".join(received)
    assert blocked.value.code == "output_blocked"
    event = _event(gateway_in_process.events, trace)
    assert (event["status_code"], event["validation_result"]) == (403, "blocked")
    assert "output_blocked:secret-word" in event["guardrail_actions"]


def test_a_client_leaving_mid_stream_closes_the_upstream_and_records_499(
        gateway_in_process: InProcess) -> None:
    trace = "00000000000000000000000000000fed"
    with _sdk(gateway_in_process.url) as client:
        stream = client.chat.completions.create(
            model="amazon.nova-lite-v1", messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        for i, _ in enumerate(stream):
            if i == 3:
                break
        stream.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["trace_id"] == trace for e in gateway_in_process.events):
        time.sleep(0.05)
    event = _event(gateway_in_process.events, trace)
    assert (event["status_code"], event["error_type"]) == (499, "client_closed")
    assert gateway_in_process.client.closed_streams == 1
