"""A small HTTP/1.1 server on asyncio Protocol + httptools.

Why not uvicorn: its ASGI plumbing costs more CPU per request than the whole gateway budget allows
(docs/performance.md), and it has no header/body read timeouts. This module owns only the wire:
parsing, limits (header lines and bytes, body size, chunk framing, pipelined requests, bytes held
per server, connections), slow-client timeouts, keep-alive, pipelining, chunked streaming and
graceful draining. What a request means is the handler's business.

Memory is bounded by construction: a connection holds at most ``MAX_PIPELINED`` parsed requests,
stops reading while one is being answered, and does not start the next one while the client leaves
more than the write buffer's high-water mark of answers unread; the whole server holds at most
``Limits.max_buffered_bytes`` of request bodies and ``Limits.max_connections`` connections
(docs/security.md, "HTTP edge and memory bounds").
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast

import httptools

from gateway_shim.server.errors import ApiError, error_json, error_type

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
"""Header lines, repeated names included."""
MAX_CHUNK_FRAMING_BYTES = 64 * 1024
"""Bytes of chunked framing (sizes, extensions, trailers) allowed beyond a request's body bytes."""
FEED_SLICE_BYTES = 16 * 1024
MAX_PIPELINED = 16
"""Parsed requests a connection may hold beyond the one being answered."""
WRITE_HIGH_WATER = 256 * 1024
SWEEP_INTERVAL_S = 0.1
HTTP_VERSIONS = frozenset({"1.0", "1.1"})

_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


@dataclass(frozen=True, slots=True)
class Limits:
    """Wire limits; a client that breaks one gets a 4xx JSON error and the connection is closed."""

    max_body_bytes: int = 1_048_576
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 30.0
    max_buffered_bytes: int = 64 * 1_048_576
    """Request bodies held by the whole server (received, not yet answered); beyond: 503."""
    max_connections: int = 10_000
    """Open connections; one more is answered 503 and closed."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_mono: float
    received_us: int
    http_version: str = "1.1"


Handler = Callable[[Request, "Connection"], Awaitable[None]]
WireErrorHook = Callable[[int, str, str, "Request | None"], None]
"""Told about a request refused at the wire (status, code, message, what arrived of it)."""


@dataclass(slots=True)
class _Pending:
    url: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    body_len: int = 0
    header_bytes: int = 0
    header_lines: int = 0
    in_body: bool = False
    body_wire_bytes: int = 0
    """Bytes read since the headers ended: body plus chunk framing."""
    started_mono: float = 0.0
    started_us: int = 0


def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))


def _header_block(status: int, headers: list[tuple[str, str]]) -> bytearray:
    out = bytearray(_status_line(status))
    for name, value in headers:
        out += name.encode("latin-1")
        out += b": "
        out += value.encode("latin-1", "replace")
        out += b"\r\n"
    return out


class Connection(asyncio.Protocol):
    """One client connection. Requests on it are handled one at a time, in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending = _Pending()
        self.queue: deque[tuple[Request, bool]] = deque()
        self.busy = False
        self.closed = False
        self.streaming_chunked = False
        self.responded = False
        self.keep_alive = True
        self.discarding = False
        self.deadline = 0.0
        """When the current phase (idle, headers, body, discarding) times out; 0 = no deadline.
        One sweep per server checks every connection (cheaper than a timer per request phase)."""
        self.write_ready = asyncio.Event()
        self.write_ready.set()
        self.held_bytes = 0
        """Request bodies this connection holds (counted in the server's ``buffered_bytes``)."""
        self.deferred_error: tuple[int, str, str] | None = None
        """A wire error met while a request was being answered: sent after it, then close."""

    # ---- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        transport = self.transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.server.connections.add(self)
        self._arm(self.server.limits.keepalive_timeout_s)
        if len(self.server.connections) > self.server.limits.max_connections:
            self._fail(503, "too_many_connections", "the gateway has too many open connections; retry")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._disarm()
        self.write_ready.set()
        self.server.connections.discard(self)
        self.queue.clear()
        self._release(self.held_bytes)

    def pause_writing(self) -> None:
        self.write_ready.clear()

    def resume_writing(self) -> None:
        self.write_ready.set()

    def data_received(self, data: bytes) -> None:
        if self.closed or self.discarding:
            return
        try:
            if len(data) <= FEED_SLICE_BYTES:
                self._feed(data)
            else:  # in slices, so chunk framing is measured at most one slice late
                for offset in range(0, len(data), FEED_SLICE_BYTES):
                    self._feed(data[offset : offset + FEED_SLICE_BYTES])
                    if self.closed or self.discarding:
                        break
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrade_not_supported", "protocol upgrades are not supported")
        except ApiError as exc:
            self._fail(exc.status, exc.code, exc.message)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, ApiError):
                self._fail(cause.status, cause.code, cause.message)
            else:
                self._fail(400, "malformed_http", f"malformed HTTP request: {exc}")

    def _feed(self, data: bytes) -> None:
        """Parse ``data``; bytes that arrive in a body beyond its body bytes are chunk framing, bounded."""
        pending = self.pending
        counting = pending.in_body
        self.parser.feed_data(data)
        if counting and self.pending is pending:
            pending.body_wire_bytes += len(data)
            if pending.body_wire_bytes - pending.body_len > MAX_CHUNK_FRAMING_BYTES:
                raise ApiError(400, "chunk_framing_too_large",
                               f"chunk sizes, extensions and trailers over {MAX_CHUNK_FRAMING_BYTES} bytes")

    # ---- httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.pending = _Pending(started_mono=time.monotonic(), started_us=time.time_ns() // 1000)
        if not self.busy:
            self._arm(self.server.limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        self.pending.url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)  # ": " and CRLF: empty lines count too
        pending = self.pending
        pending.header_lines += 1
        if pending.header_lines > MAX_HEADERS:
            raise ApiError(431, "headers_too_large", f"more than {MAX_HEADERS} header lines")
        headers = pending.headers
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        headers = self.pending.headers
        version = self.parser.get_http_version()
        if version not in HTTP_VERSIONS:
            raise ApiError(505, "http_version_not_supported",
                           f"HTTP/{version} is not supported; use HTTP/1.1 or HTTP/1.0")
        if self.parser.get_method() == b"CONNECT":
            raise ApiError(405, "method_not_allowed", "CONNECT is not supported: this is not a proxy")
        if "upgrade" in headers:
            raise ApiError(400, "upgrade_not_supported",
                           f"protocol upgrades ({headers['upgrade'][:40]!r}) are not supported")
        coding = headers.get("transfer-encoding")
        if coding is not None and coding.strip().lower() != "chunked":
            raise ApiError(501, "unsupported_transfer_encoding",
                           f"transfer coding {coding[:60]!r} is not supported; only 'chunked' is")
        declared = headers.get("content-length")
        limit = self.server.limits.max_body_bytes
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise ApiError(413, "request_too_large", f"request body over the {limit}-byte limit")
        if headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.pending.in_body = True
        if not self.busy:
            self._arm(self.server.limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        pending = self.pending
        pending.body_len += len(body)
        limit = self.server.limits.max_body_bytes
        if pending.body_len > limit:
            raise ApiError(413, "request_too_large", f"request body over the {limit}-byte limit")
        server = self.server
        if server.buffered_bytes + len(body) > server.limits.max_buffered_bytes:
            raise ApiError(503, "server_busy", "the gateway holds too many request bodies; retry")
        server.buffered_bytes += len(body)
        self.held_bytes += len(body)
        pending.body.append(body)

    def on_message_complete(self) -> None:
        pending = self.pending
        if len(self.queue) >= MAX_PIPELINED:
            raise ApiError(429, "too_many_pipelined",
                           f"more than {MAX_PIPELINED} pipelined requests waiting on one connection")
        url = pending.url.decode("latin-1")
        path, _, query = url.partition("?")
        request = Request(
            method=self.parser.get_method().decode("latin-1"),
            path=path,
            query=query,
            headers=pending.headers,
            body=b"".join(pending.body),
            received_mono=pending.started_mono,
            received_us=pending.started_us,
            http_version=self.parser.get_http_version(),
        )
        self.pending = _Pending()
        self.queue.append((request, bool(self.parser.should_keep_alive())))
        self._disarm()
        if not self.busy:
            self._next()
        elif self.transport is not None:
            self.transport.pause_reading()

    # ---- request dispatch -------------------------------------------------------------------------
    def _next(self) -> None:
        if not self.queue or self.closed:
            return
        request, keep_alive = self.queue.popleft()
        self.busy = True
        self.responded = False
        self.keep_alive = keep_alive and not self.server.draining
        self.server.in_flight += 1
        task = self.loop.create_task(self._run(request))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _run(self, request: Request) -> None:
        try:
            if not self.write_ready.is_set() and not await self._client_read_up():
                return
            await self.server.handler(request, self)
        except asyncio.CancelledError:  # cut off by shutdown after the drain timeout
            if not self.responded:
                self.keep_alive = False
                self.respond(503, [("retry-after", "1")], error_json(
                    "server_error", "gateway_shutdown", "the gateway shut down mid-request"))
        except Exception as exc:  # the last safety net: a bug must still answer in JSON, never hang
            self.server.on_handler_error(exc)
            if not self.responded and not self.streaming_chunked:
                self.respond(500, [], error_json("api_error", "internal_error", "internal gateway error"))
        finally:
            if self.streaming_chunked:
                self.end_stream()
            self._release(len(request.body))
            self.server.in_flight -= 1
            self.busy = False
            if self.deferred_error is not None and not self.queue:
                status, code, message = self.deferred_error
                self.keep_alive = False
                self.responded = False
                self.respond(status, [], error_json(error_type(status), code, message))
            if not self.keep_alive or (self.server.draining and not self.queue):
                self.close()
            elif self.queue:
                self._next()
            else:
                if self.transport is not None and not self.closed:
                    self.transport.resume_reading()
                self._arm(self.server.limits.keepalive_timeout_s)

    async def _client_read_up(self) -> bool:
        """Wait until the client has read our earlier answers (below the high-water mark); False if it
        did not within the body timeout (the connection is closed then)."""
        try:
            await asyncio.wait_for(self.write_ready.wait(), self.server.limits.body_timeout_s)
        except TimeoutError:
            self.close()
        return not self.closed

    # ---- responses --------------------------------------------------------------------------------
    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes,
                content_type: str = "application/json") -> None:
        """A whole response with Content-Length."""
        if self.responded or self.closed or self.transport is None:
            self.responded = True
            return
        self.responded = True
        if self.server.draining:
            self.keep_alive = False
        block = _header_block(status, headers)
        block += b"content-type: %s\r\ncontent-length: %d\r\n" % (content_type.encode(), len(body))
        if not self.keep_alive:
            block += b"connection: close\r\n"
        block += b"\r\n"
        block += body
        self.transport.write(block)

    def start_stream(self, status: int, headers: list[tuple[str, str]], content_type: str) -> None:
        """Begin a chunked response (HTTP/1.0 clients get a close-delimited body instead)."""
        if self.responded or self.closed or self.transport is None:
            self.responded = True
            return
        self.responded = True
        if self.server.draining:
            self.keep_alive = False
        block = _header_block(status, headers)
        block += b"content-type: %s\r\ncache-control: no-cache\r\n" % content_type.encode()
        if self.parser.get_http_version() == "1.0":
            self.keep_alive = False
            block += b"connection: close\r\n\r\n"
        else:
            self.streaming_chunked = True
            block += b"transfer-encoding: chunked\r\n"
            if not self.keep_alive:
                block += b"connection: close\r\n"
            block += b"\r\n"
        self.transport.write(block)

    async def write(self, data: bytes) -> None:
        """One piece of a streamed body; waits while the client is not reading (flow control), but
        closes the connection if it stays unread longer than the body timeout: a stalled reader
        must not hold its lane slot for ever."""
        if self.closed or self.transport is None or not data:
            return
        self.send(data)
        if not self.write_ready.is_set():
            try:
                await asyncio.wait_for(self.write_ready.wait(), self.server.limits.body_timeout_s)
            except TimeoutError:
                self.close()

    def send(self, data: bytes) -> None:
        """One piece of a streamed body, without waiting for the client (the last frames at shutdown)."""
        if self.closed or self.transport is None or not data:
            return
        if self.streaming_chunked:
            self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.transport.write(data)

    def end_stream(self) -> None:
        if self.streaming_chunked and not self.closed and self.transport is not None:
            self.transport.write(b"0\r\n\r\n")
        self.streaming_chunked = False

    # ---- helpers ----------------------------------------------------------------------------------
    def _count_header_bytes(self, n: int) -> None:
        self.pending.header_bytes += n
        if self.pending.header_bytes > MAX_HEADER_BYTES:
            raise ApiError(431, "headers_too_large", f"request headers over {MAX_HEADER_BYTES} bytes")

    def _fail(self, status: int, code: str, message: str) -> None:
        """A wire-level error: answer if we still can, then close; the handler never sees it.

        The rest of what the client sends is read and dropped for a moment before closing, so
        the client reads our answer instead of a connection reset."""
        pending = self.pending
        if pending.started_mono and not self.busy:
            self.server.on_wire_error(status, code, message, self._partial_request())
        else:
            self.server.on_wire_error(status, code, message, None)
        if self.transport is None:
            return
        if self.busy:  # answer what is running and queued first, then this error, then close
            self.deferred_error = (status, code, message)
            self.discarding = True
            self.transport.pause_reading()
            return
        self.keep_alive = False
        self.responded = False
        self.respond(status, [], error_json(error_type(status), code, message))
        self.discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(1.0)

    def _partial_request(self) -> Request:
        """What arrived of a request refused at the wire (headers may be incomplete, no body)."""
        pending = self.pending
        path, _, query = pending.url.decode("latin-1").partition("?")
        method = b""
        with contextlib.suppress(httptools.HttpParserError):
            method = self.parser.get_method()
        return Request(method=method.decode("latin-1"), path=path, query=query, headers=pending.headers,
                       body=b"", received_mono=pending.started_mono, received_us=pending.started_us)

    def on_timeout(self) -> None:
        self.deadline = 0.0
        if self.discarding:
            self.close()
            return
        if self.busy or self.closed:
            return
        started = self.pending.started_mono
        if started and not self.queue:
            self._fail(408, "request_timeout", "the request was not received in time")
        else:
            self.close()

    def _arm(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def _disarm(self) -> None:
        self.deadline = 0.0

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self._disarm()
            self.transport.close()

    def _release(self, held: int) -> None:
        held = min(held, self.held_bytes)
        self.held_bytes -= held
        self.server.buffered_bytes -= held

    @property
    def idle(self) -> bool:
        return not self.busy and not self.queue


class HttpServer:
    """Listeners + connection registry + graceful drain."""

    def __init__(self, handler: Handler, limits: Limits, *,
                 on_wire_error: WireErrorHook | None = None,
                 on_handler_error: Callable[[BaseException], None] | None = None) -> None:
        self.handler = handler
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.connections: set[Connection] = set()
        self.listeners: list[asyncio.Server] = []
        self.draining = False
        self.in_flight = 0
        self.buffered_bytes = 0
        """Request bodies held by all connections (bounded by ``limits.max_buffered_bytes``)."""
        self.tasks: set[asyncio.Task[None]] = set()
        self._sweep_due = time.monotonic() + SWEEP_INTERVAL_S
        self._sweeper = self.loop.call_at(self.loop.time() + SWEEP_INTERVAL_S, self._sweep)
        self.loop_lag_max_s = 0.0
        """The longest the event loop was late for the sweep since it was last read (then reset)."""
        self.loop_lag_over_10ms = 0
        self.on_wire_error: WireErrorHook = on_wire_error or (lambda status, code, message, request: None)
        self.on_handler_error = on_handler_error or (lambda exc: None)

    async def listen(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        """Start a listener; returns the bound port (useful with port 0)."""
        server = await self.loop.create_server(
            lambda: Connection(self), host, port, ssl=tls, backlog=2048, reuse_address=True)
        self.listeners.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    def _sweep(self) -> None:
        """Time out slow or idle connections (deadlines are checked to within SWEEP_INTERVAL_S)."""
        now = time.monotonic()
        lag = now - self._sweep_due
        if lag > self.loop_lag_max_s:
            self.loop_lag_max_s = lag
        if lag > 0.010:
            self.loop_lag_over_10ms += 1
        for conn in list(self.connections):
            if conn.deadline and conn.deadline <= now:
                conn.on_timeout()
        self._sweep_due = now + SWEEP_INTERVAL_S
        self._sweeper = self.loop.call_later(SWEEP_INTERVAL_S, self._sweep)

    async def drain(self, timeout_s: float) -> bool:
        """Stop accepting, let in-flight requests finish (bounded), close idle connections.

        Returns True when everything in flight finished before the timeout."""
        self.draining = True
        for listener in self.listeners:
            listener.close()
        deadline = time.monotonic() + timeout_s
        while True:
            for conn in list(self.connections):
                if conn.idle:
                    conn.close()
            if self.in_flight == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        finished = self.in_flight == 0
        if not finished:  # cut off what is left, but let each handler record how it ended
            for task in list(self.tasks):
                task.cancel()
            await asyncio.wait(list(self.tasks), timeout=5)
        for conn in list(self.connections):
            conn.close()
        self._sweeper.cancel()
        return finished
