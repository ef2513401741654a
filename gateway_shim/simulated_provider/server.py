"""The simulated provider as a bare ASGI callable (run by uvicorn with httptools and uvloop).

It is also the "direct" baseline of the gateway benchmark, so each request does little: parse the
body once, ask the `SimulatedModel`, sleep the simulated latency (scaled by `time_scale`; injected
latency is never scaled), write the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
import uvicorn

from gateway_shim.simulated_provider import wire_converse, wire_native, wire_openai
from gateway_shim.simulated_provider.answers import Answer, answer
from gateway_shim.simulated_provider.faults import FaultValidationError, parse_fault
from gateway_shim.simulated_provider.invocation_log_sink import InvocationLogSink, ServedCall, caller
from gateway_shim.simulated_provider.latency import PROFILES
from gateway_shim.simulated_provider.simulated_model import (
    SimResponse,
    SimulatedModel,
    converse_prompt,
    count_tokens,
    openai_prompt,
)
from gateway_shim.simulated_provider.stats import RequestStats
from gateway_shim.simulated_provider.wire_openai import BadRequest, request_object

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = tuple[tuple[bytes, bytes], ...]

MAX_BODY_BYTES = 8 * 1024 * 1024
TOKENS_PER_CHUNK = 4
TIME_SCALE_ENV = "AIGW_PROVIDER_TIME_SCALE"


def _headers(content_type: bytes, length: int,
             extra: tuple[tuple[bytes, bytes], ...] = ()) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type), (b"content-length", str(length).encode()), *extra]


class ProviderApp:
    """ASGI app: OpenAI chat completions and embeddings, Bedrock Converse(Stream), InvokeModel
    (WithResponseStream), CountTokens and ApplyGuardrail, /v1/models, /_control/faults and
    /_control/stats. With ``invocation_logs``, every Bedrock model call it answers is logged there."""

    def __init__(self, model: SimulatedModel, *, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 invocation_logs: InvocationLogSink | None = None) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.model = model
        self.time_scale = time_scale
        self.clock = clock
        self.invocation_logs = invocation_logs
        self.stats = RequestStats()
        self.async_jobs: dict[str, dict[str, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/v1/chat/completions":
            if method != "POST":
                return await _json(send, 405, wire_openai.error(405, "use POST"))
            return await self._chat(scope, receive, send)
        if path.startswith("/model/") and method == "POST":
            if path.endswith("/converse"):
                return await self._converse(_Call(scope, "Converse", path[7:-9]), receive, send)
            if path.endswith("/converse-stream"):
                return await self._converse(_Call(scope, "ConverseStream", path[7:-16]), receive, send)
            if path.endswith("/invoke"):
                return await self._invoke(_Call(scope, "InvokeModel", path[7:-7]), receive, send)
            if path.endswith("/invoke-with-response-stream"):
                return await self._invoke(_Call(scope, "InvokeModelWithResponseStream", path[7:-28]),
                                          receive, send)
            if path.endswith("/count-tokens"):
                return await self._count_tokens(path[7:-13], receive, send)
        if path == "/v1/embeddings" and method == "POST":
            return await self._embeddings(receive, send)
        if path.startswith("/guardrail/") and path.endswith("/apply") and method == "POST":
            return await self._apply_guardrail(receive, send)
        if path == "/async-invoke" or path.startswith("/async-invoke/"):
            return await self._async_invoke(method, unquote(path[len("/async-invoke/"):]), receive, send)
        if path == "/v1/models" and method == "GET":
            return await _json(send, 200, wire_openai.models(sorted(PROFILES)))
        if path == "/_control/faults":
            return await self._control(scope, receive, send)
        if path == "/_control/stats":
            return await self._stats(method, send)
        if path == "/healthz":
            return await _json(send, 200, b'{"status":"ok"}')
        await _json(send, 404, wire_openai.error(404, f"no route for {method} {path}"))

    async def _delay(self, sim: SimResponse, ms: float) -> None:
        """Sleep `ms` of simulated time: the model's part scaled, injected latency as it is."""
        seconds = (sim.added_ms + (ms - sim.added_ms) * self.time_scale) / 1000.0
        if seconds > 0.0005:
            await asyncio.sleep(seconds)

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return await _json(send, 413, wire_openai.error(413, f"body larger than {MAX_BODY_BYTES} bytes"))
        try:
            request = wire_openai.parse_chat(body)
        except BadRequest as exc:
            return await _json(send, 400, wire_openai.error(400, str(exc)))
        text, count = openai_prompt(request.messages)
        sim = self.model.respond_to_prompt(request.model, text, count, request.max_tokens, self.clock())
        self.stats.record(request.model, not sim.ok)
        if not sim.ok:
            await self._delay(sim, sim.total_ms)
            if sim.drop_connection:
                return await _drop(receive)
            extra = ((b"retry-after", b"1"),) if sim.status == 429 else ()
            return await _json(send, sim.status, wire_openai.error(sim.status, sim.error_message()), extra)
        reply = answer(sim, request.features)
        if not request.stream:
            await self._delay(sim, sim.total_ms)
            return await _json(send, 200, wire_openai.completion(sim, reply))
        await self._delay(sim, sim.ttft_ms)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        created = int(time.time())
        await _more(send, wire_openai.chunk(sim, created, {"role": "assistant", "content": ""}))
        if reply.tool_name is not None:
            await _more(send, wire_openai.chunk(sim, created, {"tool_calls": [
                {"index": 0, **wire_openai.tool_call(reply, "")}]}))
            for piece in _split(reply.tool_arguments or ""):
                await _more(send, wire_openai.chunk(sim, created, {"tool_calls": [
                    {"index": 0, "function": {"arguments": piece}}]}))
        else:
            async for piece in self._pieces(sim, reply):
                await _more(send, wire_openai.chunk(sim, created, {"content": piece}))
        tail = wire_openai.chunk(sim, created, {}, reply.finish_reason)
        if request.include_usage:
            tail += wire_openai.usage_chunk(sim, reply, created)
        await send({"type": "http.response.body", "body": tail + wire_openai.DONE, "more_body": False})

    async def _paced(self, sim: SimResponse) -> AsyncIterator[str]:
        """The answer's pieces, each released when its simulated time has come."""
        pieces = sim.pieces(TOKENS_PER_CHUNK)
        start = time.monotonic()
        step_s = (sim.total_ms - sim.ttft_ms) / max(1, len(pieces)) / 1000.0 * self.time_scale
        for i, piece in enumerate(pieces):
            wait = start + (i + 1) * step_s - time.monotonic()
            if wait > 0.002:
                await asyncio.sleep(wait)
            yield piece

    async def _pieces(self, sim: SimResponse, reply: Answer) -> AsyncIterator[str]:
        """The text answer paced as the model's, or a JSON answer in a few pieces."""
        if reply.text is sim.text or reply.text == sim.text:
            async for piece in self._paced(sim):
                yield piece
            return
        for piece in _split(reply.text):
            yield piece

    async def _converse(self, call: _Call, receive: Receive, send: Send) -> None:
        model_id, ids = call.model, call.headers
        body = await _read_body(receive)
        if body is None:
            return await _aws_error(send, 413, f"body larger than {MAX_BODY_BYTES} bytes", ids)
        if not model_id:
            return await _aws_error(send, 400, "modelId is required", ids)
        try:
            request = wire_converse.parse_converse(body)
        except BadRequest as exc:
            return await _aws_error(send, 400, str(exc), ids)
        text, count = converse_prompt(request.messages, request.system)
        started = time.monotonic()
        sim = self.model.respond_to_prompt(model_id, text, count, request.max_tokens, self.clock())
        self.stats.record(model_id, not sim.ok)
        if not sim.ok:
            await self._delay(sim, sim.total_ms)
            if sim.drop_connection:
                return await _drop(receive)
            return await _aws_error(send, sim.status, sim.error_message(), ids)
        reply = answer(sim, request.features)
        usage = wire_converse.usage(sim, reply, request.features)
        if call.operation == "Converse":
            await self._delay(sim, sim.total_ms)
            await _json(send, 200, wire_converse.response(reply, usage, sim.total_ms), ids)
            return self._log_converse(call, usage, request.metadata)
        await self._delay(sim, sim.ttft_ms)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/vnd.amazon.eventstream"), *ids]})
        await _more(send, wire_converse.message_start())
        if reply.tool_name is not None:
            await _more(send, wire_converse.tool_start(reply))
            for piece in _split(reply.tool_arguments or ""):
                await _more(send, wire_converse.tool_delta(piece))
        else:
            async for piece in self._pieces(sim, reply):
                await _more(send, wire_converse.text_delta(piece))
        elapsed_ms = (time.monotonic() - started) * 1000.0
        end = wire_converse.message_end(reply, usage, elapsed_ms)
        await send({"type": "http.response.body", "body": end, "more_body": False})
        self._log_converse(call, usage, request.metadata)

    def _log_converse(self, call: _Call, usage: dict[str, int], metadata: dict[str, str]) -> None:
        self._log(call, usage["inputTokens"], usage["outputTokens"], usage.get("cacheReadInputTokens"),
                  usage.get("cacheWriteInputTokens"), metadata)

    def _log(self, call: _Call, input_tokens: int, output_tokens: int, cache_read: int | None = None,
             cache_write: int | None = None, metadata: dict[str, str] | None = None) -> None:
        """The answered call's invocation-log record, when logs are on."""
        sink = self.invocation_logs
        if sink is None:
            return
        sink.log(ServedCall(call.at, caller(call.authorization, sink.account_id), call.request_id,
                            call.operation, call.model, input_tokens, output_tokens, cache_read,
                            cache_write, metadata))

    async def _answer_or_fail(self, model: str, text: str, count: int, max_tokens: int | None,
                              receive: Receive, send: Send, aws: bool,
                              ids: Headers = ()) -> SimResponse | None:
        """The model's answer, or None once an injected fault has been answered (or the connection
        dropped), so every wire takes the same faults."""
        sim = self.model.respond_to_prompt(model, text, count, max_tokens, self.clock())
        self.stats.record(model, not sim.ok)
        if sim.ok:
            return sim
        await self._delay(sim, sim.total_ms)
        if sim.drop_connection:
            await _drop(receive)
        elif aws:
            await _aws_error(send, sim.status, sim.error_message(), ids)
        else:
            extra = ((b"retry-after", b"1"),) if sim.status == 429 else ()
            await _json(send, sim.status, wire_openai.error(sim.status, sim.error_message()), extra)
        return None

    async def _embeddings(self, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return await _json(send, 413, wire_openai.error(413, f"body larger than {MAX_BODY_BYTES} bytes"))
        try:
            doc = request_object(body)
            model = str(doc.get("model") or "")
            text = "\n".join(wire_native.embedding_inputs(doc))
            answer = wire_native.openai_embeddings(doc, self.model.seed)
        except BadRequest as exc:
            return await _json(send, 400, wire_openai.error(400, str(exc)))
        sim = await self._answer_or_fail(model, text, 1, 1, receive, send, aws=False)
        if sim is not None:
            await self._delay(sim, sim.ttft_ms)
            await _json(send, 200, answer)

    async def _invoke(self, call: _Call, receive: Receive, send: Send) -> None:
        ids = call.headers
        stream = call.operation == "InvokeModelWithResponseStream"
        body = await _read_body(receive)
        if body is None:
            return await _aws_error(send, 413, f"body larger than {MAX_BODY_BYTES} bytes", ids)
        model = call.model
        try:
            doc = request_object(body)
            if "embed" in model.lower():
                if stream:
                    raise BadRequest(f"{model} does not support response streaming")
                answer, tokens = wire_native.titan_embedding(doc, self.model.seed)
                text, count, max_tokens, tool = str(doc["inputText"]), 1, 1, None
            else:
                text, count, max_tokens = wire_native.anthropic_prompt(doc)
                tool = wire_native.wants_tool(doc)
        except BadRequest as exc:
            return await _aws_error(send, 400, str(exc), ids)
        started = time.monotonic()
        sim = await self._answer_or_fail(model, text, count, max_tokens, receive, send, aws=True, ids=ids)
        if sim is None:
            return
        if "embed" in model.lower():
            await self._delay(sim, sim.ttft_ms)
            await _json(send, 200, answer, (*wire_native.token_headers(tokens, 0, sim.ttft_ms), *ids))
            return self._log(call, tokens, 0)
        if tool is not None or not stream:
            await self._delay(sim, sim.total_ms)
            message = wire_native.anthropic_message(sim, model, tool)
            await _json(send, 200, message,
                        (*wire_native.token_headers(sim.input_tokens, sim.output_tokens, sim.total_ms), *ids))
            return self._log(call, sim.input_tokens, sim.output_tokens)
        await self._delay(sim, sim.ttft_ms)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/vnd.amazon.eventstream"),
            (b"x-amzn-bedrock-content-type", b"application/json"), *ids]})
        await _more(send, wire_native.stream_start(sim, model))
        async for piece in self._paced(sim):
            await _more(send, wire_native.stream_delta(piece))
        elapsed_ms = (time.monotonic() - started) * 1000.0
        await send({"type": "http.response.body", "body": wire_native.stream_end(sim, elapsed_ms),
                    "more_body": False})
        self._log(call, sim.input_tokens, sim.output_tokens)

    async def _count_tokens(self, model_id: str, receive: Receive, send: Send) -> None:
        body = await _read_body(receive) or b""
        try:
            text, count = wire_native.count_tokens_prompt(request_object(body))
        except BadRequest as exc:
            return await _aws_error(send, 400, str(exc))
        self.stats.record(unquote(model_id), False)
        await _json(send, 200, orjson.dumps({"inputTokens": count_tokens(text, count)}))

    async def _apply_guardrail(self, receive: Receive, send: Send) -> None:
        body = await _read_body(receive) or b""
        try:
            answer = wire_native.guardrail_answer(request_object(body))
        except BadRequest as exc:
            return await _aws_error(send, 400, str(exc))
        await _json(send, 200, answer)

    async def _async_invoke(self, method: str, arn: str, receive: Receive, send: Send) -> None:
        """StartAsyncInvoke (POST), ListAsyncInvokes (GET), GetAsyncInvoke (GET with an ARN)."""
        if method == "POST" and not arn:
            body = await _read_body(receive) or b""
            now = dt.datetime.now(dt.UTC).isoformat()
            try:
                answer = wire_native.start_async_invoke(request_object(body), self.async_jobs, now)
            except BadRequest as exc:
                return await _aws_error(send, 400, str(exc))
            return await _json(send, 200, answer)
        if method == "GET" and not arn:
            summaries = list(self.async_jobs.values())
            return await _json(send, 200, orjson.dumps({"asyncInvokeSummaries": summaries}))
        if method == "GET" and arn in self.async_jobs:
            return await _json(send, 200, orjson.dumps(self.async_jobs[arn]))
        await _aws_error(send, 404 if method == "GET" else 400, f"no async invoke {arn!r}")

    async def _stats(self, method: str, send: Send) -> None:
        if method == "GET":
            return await _json(send, 200, orjson.dumps(self.stats.snapshot()))
        if method == "DELETE":
            return await _json(send, 200, orjson.dumps({"cleared": self.stats.reset()}))
        await _json(send, 405, wire_openai.error(405, "use GET or DELETE"))

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        now = self.clock()
        faults = self.model.faults
        if method == "GET":
            listing = [fault.to_json(now) for fault in faults.active(now)]
            return await _json(send, 200, orjson.dumps({"faults": listing}))
        if method == "DELETE":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            model = query.get("model", [None])[0]
            return await _json(send, 200, orjson.dumps({"cleared": faults.clear(model)}))
        if method != "POST":
            return await _json(send, 405, wire_openai.error(405, "use GET, POST or DELETE"))
        body = await _read_body(receive)
        try:
            fault = parse_fault(orjson.loads(body or b"null"), now)
        except orjson.JSONDecodeError as exc:
            return await _json(send, 400, _control_error(f"body is not valid JSON: {exc}"))
        except FaultValidationError as exc:
            return await _json(send, 400, _control_error(str(exc)))
        faults.set(fault)
        await _json(send, 200, orjson.dumps({"fault": fault.to_json(now)}))


def _split(text: str, size: int = 24) -> list[str]:
    """A JSON answer or tool arguments in stream-sized pieces."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _control_error(message: str) -> bytes:
    error = {"type": "invalid_request_error", "code": "invalid_fault", "message": message}
    return orjson.dumps({"error": error})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it exceeds MAX_BODY_BYTES."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        parts.append(chunk)
    return b"".join(parts)


async def _more(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _json(send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": _headers(b"application/json", len(body), extra)})
    await send({"type": "http.response.body", "body": body})


async def _aws_error(send: Send, status: int, message: str, extra: Headers = ()) -> None:
    kind, body = wire_converse.error(status, message)
    await _json(send, status, body, ((b"x-amzn-errortype", kind.encode()), *extra))


class _Call:
    """One Bedrock model call as it arrives: its operation, model, request id (answered as
    ``x-amzn-RequestId``, as Bedrock does), arrival time and credential, for its invocation-log record."""

    __slots__ = ("at", "authorization", "headers", "model", "operation", "request_id")

    def __init__(self, scope: Scope, operation: str, model: str) -> None:
        self.operation = operation
        self.model = unquote(model)
        self.at = time.time()
        self.request_id = str(uuid.uuid4())
        self.headers: Headers = ((b"x-amzn-requestid", self.request_id.encode()),)
        self.authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"),
                                  "")


async def _drop(receive: Receive) -> None:
    """Close the connection without any response: a connection-level outage. uvicorn gives an ASGI app
    no way to do this, so reach its transport through the bound `receive`; yield once so the server
    sees the disconnect and does not answer 500."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulated outage: dropping the connection")
    transport.abort()
    await asyncio.sleep(0)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def time_scale_from_env(default: float = 1.0) -> float:
    raw = os.environ.get(TIME_SCALE_ENV)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIME_SCALE_ENV}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{TIME_SCALE_ENV}={raw!r} must be >= 0")
    return value


def uvicorn_config(app: ProviderApp, host: str, port: int, *, log_level: str = "warning",
                   ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> uvicorn.Config:
    """uvicorn with httptools and uvloop; TLS when a certificate is given (boto3 sends a Bedrock
    bearer token only over https)."""
    return uvicorn.Config(app, host=host, port=port, loop="uvloop", http="httptools", lifespan="off",
                          access_log=False, log_level=log_level, backlog=4096, timeout_keep_alive=75,
                          server_header=False, date_header=False, ssl_certfile=ssl_certfile,
                          ssl_keyfile=ssl_keyfile)


@dataclass(slots=True)
class BackgroundProvider:
    """A provider server on its own thread and loop: for tests and in-process demos."""

    app: ProviderApp
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop now, cutting open connections: a TLS connection whose idle client never answers the
        close handshake would otherwise hold uvicorn's graceful shutdown for the full join timeout."""
        self.server.should_exit = True
        if self.server.servers and self.thread.is_alive():
            self.server.servers[0].get_loop().call_soon_threadsafe(self._abort_connections)
        self.thread.join(timeout)

    def _abort_connections(self) -> None:
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


@contextlib.contextmanager
def background_provider(*, seed: int = 0, time_scale: float = 0.0, host: str = "127.0.0.1",
                        port: int = 0, startup_timeout: float = 10.0, ssl_certfile: str | None = None,
                        ssl_keyfile: str | None = None) -> Iterator[BackgroundProvider]:
    """Run a provider on a free (or given) loopback port until the block ends."""
    app = ProviderApp(SimulatedModel(seed=seed), time_scale=time_scale)
    config = uvicorn_config(app, host, port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="aigw-provider", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"simulated provider did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    running = BackgroundProvider(app, server, thread, host, bound, tls=ssl_certfile is not None)
    try:
        yield running
    finally:
        running.stop()
