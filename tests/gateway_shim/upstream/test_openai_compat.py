"""The `simulated`/`openai` adapter against the simulated provider: results, streams, error reasons."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway_shim.simulated_provider.server import BackgroundProvider
from gateway_shim.upstream.base import StreamChunk, UpstreamError, UpstreamRequest, UpstreamResult
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.openai_compat import OpenAICompatClient
from tests.gateway_shim.simulated_provider.conftest import control
from tests.gateway_shim.upstream.raw_servers import stalling_server
from tests.helpers import free_port

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "where is my parcel?"}]
REQUEST = UpstreamRequest("gpt-4o-mini", MESSAGES, max_tokens=60, timeout_s=5, trace_id="ab" * 16)


def _with_client(endpoint: str, use: Callable[[OpenAICompatClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = OpenAICompatClient("sim", endpoint, HttpClient(), connect_timeout_s=1)
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _collect(client: OpenAICompatClient, request: UpstreamRequest) -> list[StreamChunk]:
    return [chunk async for chunk in await client.stream(request)]


def _failure(endpoint: str, use: Callable[[OpenAICompatClient], Awaitable[Any]]) -> UpstreamError:
    with pytest.raises(UpstreamError) as raised:
        _with_client(endpoint, use)
    return raised.value


def test_complete_and_stream_agree(provider: BackgroundProvider) -> None:
    result: UpstreamResult = _with_client(provider.url, lambda c: c.complete(REQUEST))
    chunks: list[StreamChunk] = _with_client(provider.url, lambda c: _collect(c, REQUEST))
    assert result.text and result.input_tokens > 5 and 0 < result.output_tokens <= 60
    assert "".join(c.text for c in chunks) == result.text
    finish = [c.finish_reason for c in chunks if c.finish_reason is not None]
    usage = [(c.input_tokens, c.output_tokens) for c in chunks if c.output_tokens is not None]
    assert (finish, usage) == ([result.finish_reason], [(result.input_tokens, result.output_tokens)])
    assert all(c.wire == "openai" and c.raw is not None for c in chunks)


def test_a_v1_base_url_works_too(provider: BackgroundProvider) -> None:
    result = _with_client(f"{provider.url}/v1", lambda c: c.complete(REQUEST))
    assert result.output_tokens > 0


@pytest.mark.parametrize(("fault", "reason", "status"), [
    ({"throttle_rate": 1.0}, "throttle", 429),
    ({"error_rate": 1.0, "status": 500}, "error", 500),
    ({"error_rate": 1.0, "status": 400}, "error", 400),
    ({"outage": True}, "outage", 503),
    ({"outage": True, "outage_mode": "connection"}, "outage", 0),
])
def test_faults_map_to_reasons_for_both_calls(provider: BackgroundProvider, fault: dict[str, Any],
                                              reason: str, status: int) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", **fault})
    for call in (lambda c: c.complete(REQUEST), lambda c: c.stream(REQUEST)):
        error = _failure(provider.url, call)
        assert (error.reason, error.status) == (reason, status)
    if reason == "throttle":
        assert error.retry_after == 1.0


def test_timeouts(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "added_latency_ms": 500})
    quick = UpstreamRequest("gpt-4o-mini", MESSAGES, max_tokens=10, timeout_s=0.1)
    assert _failure(provider.url, lambda c: c.complete(quick)).reason == "timeout"
    assert _failure(provider.url, lambda c: c.stream(quick)).reason == "timeout"


def test_unreachable_provider_is_a_connect_error() -> None:
    error = _failure(f"http://127.0.0.1:{free_port()}", lambda c: c.complete(REQUEST))
    assert error.reason == "connect"


def test_clearing_faults_restores_service(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "outage": True})
    assert _failure(provider.url, lambda c: c.complete(REQUEST)).reason == "outage"
    control(provider.url, "DELETE")
    assert _with_client(provider.url, lambda c: c.complete(REQUEST)).output_tokens > 0



@pytest.mark.parametrize(("then_close", "reason"), [(True, "error"), (False, "timeout")])
def test_a_stream_that_breaks_after_its_first_chunk_raises_while_iterating(then_close: bool,
                                                                         reason: str) -> None:
    first = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'

    async def main() -> tuple[list[str], UpstreamError | None]:
        server = await stalling_server([first], then_close=then_close)
        port = server.sockets[0].getsockname()[1]
        client = OpenAICompatClient("raw", f"http://127.0.0.1:{port}", HttpClient())
        quick = UpstreamRequest("m", MESSAGES, max_tokens=5, timeout_s=0.3)
        chunks = await client.stream(quick)  # the first chunk is in: no fallback from here on
        texts: list[str] = []
        error = None
        try:
            async for chunk in chunks:
                texts.append(chunk.text)
        except UpstreamError as exc:
            error = exc
        await client.aclose()
        server.close()
        await server.wait_closed()
        return texts, error

    texts, error = asyncio.run(main())
    assert texts == ["Hel"]
    assert error is not None and error.reason == reason
