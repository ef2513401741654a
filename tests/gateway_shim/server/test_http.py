"""The wire layer on its own: limits, slow clients, keep-alive, pipelining, streaming, draining.

A real `HttpServer` runs on its own event loop thread on a free port; the tests talk raw sockets.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from gateway_shim.server.http import Connection, HttpServer, Limits, Request

LIMITS = Limits(max_body_bytes=1000, header_timeout_s=0.3, body_timeout_s=0.3, keepalive_timeout_s=0.5)


async def echo(request: Request, conn: Connection) -> None:
    if request.path == "/stream":
        conn.start_stream(200, [], "text/event-stream")
        for i in range(3):
            await conn.write(b"data: %d\n\n" % i)
        return
    if request.path == "/slow":
        await asyncio.sleep(0.4)
    if request.path == "/boom":
        raise RuntimeError("a bug")
    conn.respond(200, [("x-path", request.path)], orjson.dumps({
        "method": request.method, "path": request.path, "query": request.query,
        "len": len(request.body), "headers": request.headers}))


@dataclass
class Running:
    server: HttpServer
    loop: asyncio.AbstractEventLoop
    port: int
    wire_errors: list[tuple[int, str]]


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Running] = {}
    wire_errors: list[tuple[int, str]] = []

    async def start() -> None:
        server = HttpServer(echo, LIMITS, on_wire_error=lambda s, c, m, r: wire_errors.append((s, c)))
        port = await server.listen("127.0.0.1", 0)
        holder["r"] = Running(server, loop, port, wire_errors)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()),
                              daemon=True)
    thread.start()
    assert ready.wait(5)
    yield holder["r"]
    asyncio.run_coroutine_threadsafe(holder["r"].server.drain(1), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_response(sock: socket.socket,
                   leftover: bytearray | None = None) -> tuple[int, dict[str, str], bytes]:
    """One response; bytes read past it go to ``leftover`` (pipelining)."""
    data = bytes(leftover or b"")
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        if leftover is not None:
            leftover[:] = rest[length:]
        return status, headers, rest[:length]
    while True:  # chunked or close-delimited: read to the end
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            break
        if not piece:
            break
        rest += piece
        if rest.endswith(b"0\r\n\r\n"):
            break
    return status, headers, rest


def test_keep_alive_serves_several_requests_on_one_connection(running: Running) -> None:
    with _connect(running.port) as sock:
        for i in range(3):
            sock.sendall(b"POST /echo?x=%d HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi" % i)
            status, headers, body = _read_response(sock)
            assert status == 200
            payload = orjson.loads(body)
            assert payload["query"] == f"x={i}" and payload["len"] == 2
            assert headers["x-path"] == "/echo"


def test_pipelined_requests_are_answered_in_order(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        leftover = bytearray()
        first = _read_response(sock, leftover)
        second = _read_response(sock, leftover)
    assert orjson.loads(first[2])["path"] == "/slow"
    assert orjson.loads(second[2])["path"] == "/second"


def test_declared_body_over_the_cap_gets_413_without_reading_it(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
        status, headers, body = _read_response(sock)
    assert status == 413
    assert orjson.loads(body)["error"]["code"] == "request_too_large"
    assert headers["connection"] == "close"


def test_chunked_body_over_the_cap_gets_413(running: Running) -> None:
    chunk = b"x" * 600
    with _connect(running.port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
        status, _, _ = _read_response(sock)
    assert status == 413


def test_malformed_http_gets_400_json(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        status, _, body = _read_response(sock)
    assert status == 400
    assert orjson.loads(body)["error"]["type"] == "invalid_request_error"


def test_huge_headers_get_431(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        status, _, _ = _read_response(sock)
    assert status == 431


def test_slow_headers_time_out_with_408(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        status, _, _ = _read_response(sock)
    assert status == 408
    assert time.monotonic() - started < 3
    assert (408, "request_timeout") in running.wire_errors


def test_slow_body_times_out_with_408(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        status, _, _ = _read_response(sock)
    assert status == 408


def test_idle_keep_alive_connection_is_closed(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.settimeout(3)
        started = time.monotonic()
        assert sock.recv(10) == b""
    assert time.monotonic() - started < 3


def test_streamed_response_is_chunked(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
        status, headers, body = _read_response(sock)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert b"data: 0" in body and b"data: 2" in body and body.endswith(b"0\r\n\r\n")


def test_a_handler_bug_is_a_json_500_not_a_hang(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, body = _read_response(sock)
    assert status == 500 and orjson.loads(body)["error"]["code"] == "internal_error"


def test_expect_100_continue_is_answered(running: Running) -> None:
    with _connect(running.port) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        status, _, body = _read_response(sock)
    assert status == 200 and orjson.loads(body)["len"] == 3


def test_drain_finishes_in_flight_then_refuses_new_connections() -> None:
    async def scenario() -> tuple[int, bytes, bool, bool]:
        server = HttpServer(echo, LIMITS)
        port = await server.listen("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        await writer.drain()
        for _ in range(500):  # drain only once the server is handling the request
            if server.in_flight:
                break
            await asyncio.sleep(0.01)
        assert server.in_flight == 1
        drained = await server.drain(5)
        answer = await reader.read()
        writer.close()
        try:
            await asyncio.open_connection("127.0.0.1", port)
            refused = False
        except OSError:
            refused = True
        return port, answer, drained, refused

    _, answer, drained, refused = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer
    assert drained and refused


def test_a_client_that_stops_reading_a_stream_is_cut_off() -> None:
    big = b"x" * 65536

    async def flood(request: Request, conn: Connection) -> None:
        conn.start_stream(200, [], "text/event-stream")
        for _ in range(200):  # 13 MB: far more than the socket buffers hold
            await conn.write(big)
            if conn.closed:
                return

    async def scenario() -> bool:
        server = HttpServer(flood, Limits(body_timeout_s=0.3))
        port = await server.listen("127.0.0.1", 0)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1.5)  # never read
        finished = server.in_flight == 0
        writer.close()
        await server.drain(1)
        return finished

    assert asyncio.run(scenario())


# ---- issue 13: edge cases of the wire and bounds on what one client can make the server hold ----

def _exchange(running: Running, raw: bytes) -> tuple[int, bytes]:
    with _connect(running.port) as sock:
        sock.sendall(raw)
        status, _, body = _read_response(sock)
    return status, body


def _code(body: bytes) -> str:
    code: str = orjson.loads(body)["error"]["code"]
    return code


def test_repeated_header_lines_count_against_the_limit(running: Running) -> None:
    status, body = _exchange(running, b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Same: 1\r\n" * 150 + b"\r\n")
    assert (status, _code(body)) == (431, "headers_too_large")


def test_many_empty_header_lines_count_against_the_size_limit(running: Running) -> None:
    lines = b"".join(b"X-%d:\r\n" % (i % 90) for i in range(20_000))
    status, body = _exchange(running, b"GET / HTTP/1.1\r\nHost: a\r\n" + lines + b"\r\n")
    assert (status, _code(body)) == (431, "headers_too_large")


def test_a_huge_chunk_extension_is_refused(running: Running) -> None:
    raw = (b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2;ext=" + b"e" * 200_000 + b"\r\nhi\r\n0\r\n\r\n")
    status, body = _exchange(running, raw)
    assert (status, _code(body)) == (400, "chunk_framing_too_large")


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"gzip", b"identity", b"deflate"])
def test_transfer_codings_other_than_chunked_get_501(running: Running, coding: bytes) -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n2\r\nhi\r\n0\r\n\r\n" % coding
    status, body = _exchange(running, raw)
    assert (status, _code(body)) == (501, "unsupported_transfer_encoding")


@pytest.mark.parametrize("version", [b"2.0", b"0.9"])
def test_http_versions_other_than_1_0_and_1_1_get_505(running: Running, version: bytes) -> None:
    status, body = _exchange(running, b"GET /echo HTTP/%s\r\nHost: a\r\n\r\n" % version)
    assert (status, _code(body)) == (505, "http_version_not_supported")


@pytest.mark.parametrize("line", [b"GET /echo HTTP/1.2", b"GET /echo HTTP/3.0",
                                  b"GET /echo HTTP/1.1\r\nTransfer-Encoding: chunked, chunked"])
def test_what_the_parser_cannot_read_is_refused_not_served(running: Running, line: bytes) -> None:
    status, body = _exchange(running, line + b"\r\nHost: a\r\n\r\n")
    assert (status, _code(body)) == (400, "malformed_http")


def test_upgrade_is_answered_with_an_error_not_a_dropped_connection(running: Running) -> None:
    status, body = _exchange(running, b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                                      b"Upgrade: websocket\r\n\r\n")
    assert (status, _code(body)) == (400, "upgrade_not_supported")


def test_connect_is_answered_with_an_error_not_a_dropped_connection(running: Running) -> None:
    status, body = _exchange(running, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert (status, _code(body)) == (405, "method_not_allowed")


def test_pipelining_beyond_the_cap_answers_the_queue_then_429_and_close(running: Running) -> None:
    requests = b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n" + b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n" * 40
    with _connect(running.port) as sock:
        sock.sendall(requests)
        leftover = bytearray()
        statuses = []
        for _ in range(41):
            try:
                status, headers, _ = _read_response(sock, leftover)
            except (IndexError, ValueError):
                break
            statuses.append(status)
            if headers.get("connection") == "close":
                break
    assert statuses[:17] == [200] * 17
    assert statuses[-1] == 429 and len(statuses) == 18
