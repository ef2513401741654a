"""The pooled client against the simulated provider and against tiny raw servers that misbehave."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
import uvloop

from gateway_shim.simulated_provider.server import BackgroundProvider, background_provider
from gateway_shim.upstream.base import UpstreamError
from gateway_shim.upstream.http_client import HttpClient, format_headers
from tests.gateway_shim.simulated_provider.conftest import control
from tests.gateway_shim.tls_cert import self_signed_loopback_cert
from tests.gateway_shim.upstream.raw_servers import raw_server, stalling_server
from tests.helpers import free_port

JSON = format_headers({"Content-Type": "application/json"})
HI = [{"role": "user", "content": "hi"}]
CHAT = orjson.dumps({"model": "gpt-4o-mini", "messages": HI, "max_tokens": 30})
STREAM = orjson.dumps({"model": "gpt-4o-mini", "messages": HI, "stream": True})


def test_keep_alive_reuses_one_connection(provider: BackgroundProvider) -> None:
    async def main() -> tuple[list[int], int, int]:
        client = HttpClient()
        origin = client.origin(provider.url)
        statuses = [(await client.request(origin, "POST", "/v1/chat/completions", JSON, CHAT, 5)).status
                    for _ in range(5)]
        idle, used = len(origin.idle), origin.idle[0].used
        await client.aclose()
        return statuses, idle, used

    statuses, idle, used = asyncio.run(main())
    assert statuses == [200] * 5 and idle == 1 and used == 5


def test_concurrent_requests_open_parallel_connections_and_pool_them(provider: BackgroundProvider) -> None:
    async def main() -> tuple[set[int], int]:
        client = HttpClient(max_idle_per_origin=8)
        origin = client.origin(provider.url)
        replies = await asyncio.gather(*[client.request(origin, "POST", "/v1/chat/completions", JSON, CHAT, 5)
                                         for _ in range(20)])
        idle = len(origin.idle)
        await client.aclose()
        return {r.status for r in replies}, idle

    statuses, idle = asyncio.run(main())
    assert statuses == {200} and idle == 8


def test_chunked_body_read_whole_and_streamed(provider: BackgroundProvider) -> None:
    async def main() -> tuple[bytes, list[bytes], str | None]:
        client = HttpClient()
        origin = client.origin(provider.url)
        whole = await client.request(origin, "POST", "/v1/chat/completions", JSON, STREAM, 5)
        streamed = await client.stream(origin, "POST", "/v1/chat/completions", JSON, STREAM, 5)
        pieces = [piece async for piece in streamed.iter_bytes()]
        await client.aclose()
        return whole.body, pieces, streamed.header("Content-Type")

    whole, pieces, content_type = asyncio.run(main())
    assert content_type == "text/event-stream"
    assert whole.endswith(b"data: [DONE]\n\n") and b"".join(pieces) == whole and len(pieces) > 2


def _error_of(call: Callable[[HttpClient], Awaitable[object]]) -> UpstreamError:
    async def main() -> UpstreamError:
        client = HttpClient(connect_timeout_s=1)
        try:
            await call(client)
        except UpstreamError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("no UpstreamError")

    return asyncio.run(main())


def test_refused_connection_is_a_connect_error() -> None:
    port = free_port()
    error = _error_of(lambda c: c.request(c.origin(f"http://127.0.0.1:{port}"), "GET", "/", b"", b"", 1))
    assert error.reason == "connect" and error.status == 0


def test_slow_answer_is_a_timeout_and_the_connection_is_not_reused(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "added_latency_ms": 400})

    async def main() -> tuple[str, int]:
        client = HttpClient()
        origin = client.origin(provider.url)
        reasons = []
        for call in (client.request, client.stream):
            try:
                await call(origin, "POST", "/v1/chat/completions", JSON, CHAT, 0.1)
            except UpstreamError as exc:
                reasons.append(exc.reason)
        idle = len(origin.idle)
        await client.aclose()
        return ",".join(reasons), idle

    reasons, idle = asyncio.run(main())
    assert reasons == "timeout,timeout" and idle == 0


def test_dropped_connection_is_an_outage(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "*", "outage": True, "outage_mode": "connection"})
    path = "/v1/chat/completions"
    error = _error_of(lambda c: c.request(c.origin(provider.url), "POST", path, JSON, CHAT, 5))
    assert error.reason == "outage"


def test_a_keep_alive_connection_closed_by_the_server_is_replaced() -> None:
    async def main() -> tuple[list[bytes], int]:
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        server, connections = await raw_server(reply, close_after=True)
        client = HttpClient()
        origin = client.origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        bodies = []
        for pause in (0.0, 0.05, 0.0):
            bodies.append((await client.request(origin, "GET", "/", b"", b"", 2)).body)
            await asyncio.sleep(pause)
        await client.aclose()
        server.close()
        return bodies, connections[0]

    bodies, connections = asyncio.run(main())
    assert bodies == [b"ok"] * 3 and connections == 3


def test_body_delimited_by_close_and_malformed_responses() -> None:
    async def main() -> tuple[bytes, UpstreamError | None]:
        reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
        plain, _ = await raw_server(reply, close_after=True)
        broken, _ = await raw_server(b"NOT HTTP AT ALL\r\n\r\n", close_after=True)
        client = HttpClient()
        body = (await client.request(client.origin(f"http://127.0.0.1:{plain.sockets[0].getsockname()[1]}"),
                                     "GET", "/", b"", b"", 2)).body
        error = None
        try:
            await client.request(client.origin(f"http://127.0.0.1:{broken.sockets[0].getsockname()[1]}"),
                                 "GET", "/", b"", b"", 2)
        except UpstreamError as exc:
            error = exc
        plain.close()
        broken.close()
        return body, error

    body, error = asyncio.run(main())
    assert body == b"until the end"
    assert error is not None and error.reason == "error" and "malformed" in error.message


def test_cancelling_a_request_discards_its_connection(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "added_latency_ms": 300})

    def received() -> int:
        return provider.app.stats.requests.get("gpt-4o-mini", 0)

    async def main() -> int:
        client = HttpClient()
        origin = client.origin(provider.url)
        already = received()
        task = asyncio.ensure_future(client.request(origin, "POST", "/v1/chat/completions", JSON, CHAT, 5))
        for _ in range(500):  # cancel only once the provider holds the request on the connection
            if received() > already:
                break
            await asyncio.sleep(0.01)
        assert received() > already
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.4)
        return len(origin.idle)

    assert asyncio.run(main()) == 0


def test_header_lines_cannot_be_injected() -> None:
    assert format_headers({"X-A": "1\r\nEvil: yes"}) == b"X-A: 1Evil: yes\r\n"
    with pytest.raises(ValueError, match="http"):
        HttpClient().origin("ftp://example.com")


def test_on_uvloop_like_the_gateway(provider: BackgroundProvider) -> None:
    async def main() -> tuple[list[int], bytes]:
        client = HttpClient()
        origin = client.origin(provider.url)
        replies = await asyncio.gather(*[client.request(origin, "POST", "/v1/chat/completions", JSON, CHAT, 5)
                                         for _ in range(10)])
        streamed = await client.stream(origin, "POST", "/v1/chat/completions", JSON, STREAM, 5)
        body = await streamed.read()
        await client.aclose()
        return [r.status for r in replies], body

    statuses, body = uvloop.run(main())
    assert statuses == [200] * 10 and body.endswith(b"[DONE]\n\n")


@pytest.mark.parametrize(("then_close", "reason"), [(True, "error"), (False, "timeout")])
def test_a_stream_that_breaks_or_stalls_midway(then_close: bool, reason: str) -> None:
    async def main() -> tuple[list[bytes], UpstreamError | None]:
        server = await stalling_server([b"data: one\n\n", b"data: two\n\n"], then_close=then_close)
        client = HttpClient()
        origin = client.origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        response = await client.stream(origin, "GET", "/", b"", b"", 0.3)
        received: list[bytes] = []
        error = None
        try:
            async for chunk in response.iter_bytes():
                received.append(chunk)
        except UpstreamError as exc:
            error = exc
        await client.aclose()
        server.close()
        await server.wait_closed()
        return received, error

    received, error = asyncio.run(main())
    assert b"".join(received) == b"data: one\n\ndata: two\n\n"
    assert error is not None and error.reason == reason


def test_https_with_a_trusted_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_loopback_cert(tmp_path)
    with background_provider(ssl_certfile=str(cert), ssl_keyfile=str(key)) as running:
        async def main() -> tuple[int, int]:
            client = HttpClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
            origin = client.origin(running.url)
            statuses = [(await client.request(origin, "POST", "/v1/chat/completions", JSON, CHAT, 5)).status
                        for _ in range(3)]
            idle = len(origin.idle)
            await client.aclose()
            return sum(statuses), idle

        assert asyncio.run(main()) == (600, 1)
        untrusted = _error_of(lambda c: c.request(c.origin(running.url), "GET", "/healthz", b"", b"", 5))
    assert untrusted.reason == "connect" and "certificate" in untrusted.message.lower()
