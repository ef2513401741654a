"""The lifecycle of a native-body request (embeddings, InvokeModel, Anthropic Messages, any other
``bedrock-runtime`` operation): the same admit → lane slot → attempts with fallback → one event as
chat (`dispatch.py`), but the body travels as the application wrote it.

A door parses its body into a `NativeCall`: the request context for policy (its ``messages`` are the
body's texts, one per `TextSlot`, so guardrails, token estimates and redaction work on them) and a
`NativeDoor` that knows how to call a target and answer the client. When redaction changed a text,
it is written back into the body at its slot before the body goes upstream; the lane's output cap is
written into the body's own ``max_tokens`` when the door has one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from gateway_shim.core import Gateway
from gateway_shim.server.dispatch import (
    SHUTDOWN_CUT,
    SPOOL_FAILING,
    Dispatcher,
    pause_for_retry,
    response_headers,
)
from gateway_shim.server.doors import Headers
from gateway_shim.server.errors import error_type, retry_after_header
from gateway_shim.server.http import Connection
from gateway_shim.types import AttemptResult, Message, Plan, Rejection, RequestContext, Target
from gateway_shim.upstream.base import UpstreamError
from gateway_shim.upstream.native import NativeClient, NativeResponse, NativeStream

log = logging.getLogger("aigw.server")
OUTPUT_SCAN_TAIL = 256
NO_TEXT: list[Message] = [{"role": "user", "content": ""}]
"""The policy messages of a body without any text (token arrays, a GET): admission still runs."""


@dataclass(slots=True)
class TextSlot:
    """Where one text of the body lives: ``container[key]`` is a string."""

    container: Any
    key: Any


def event_input_tokens(usage: Usage) -> int | None:
    """The input as the event counts it, cache reads and writes included (docs/telemetry.md). Every
    native count leaves them out: Anthropic's ``usage.input_tokens``, Bedrock's
    ``x-amzn-bedrock-input-token-count`` and ``inputTokenCount``."""
    if usage.input_tokens is None:
        return None
    return usage.input_tokens + (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0)


@dataclass(slots=True)
class Usage:
    """What the provider reported (``None`` = not reported; never guessed)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    tool_calls: int | None = None


@dataclass(slots=True)
class Answer:
    """What goes back to the client after a successful attempt."""

    status: int
    headers: Headers
    body: bytes
    content_type: str
    usage: Usage
    text: str = ""
    """The answer's text, for the output guardrails."""


class StreamRelay(Protocol):
    """Turns the upstream stream's bytes into the client's, noting text and usage on the way."""

    content_type: str
    usage: Usage

    def feed(self, data: bytes) -> tuple[bytes, str]:
        """(bytes for the client, text seen in them)."""
        ...

    def error(self, code: str, message: str) -> bytes: ...

    def end(self) -> bytes: ...


class ErrorWriter(Protocol):
    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None: ...


class NativeDoor(ErrorWriter, Protocol):
    """One native front door: which targets can serve it, the call, the answer, the errors."""

    operation_label: str

    def unable(self, call: NativeCall, target: Target, client: NativeClient) -> str | None:
        """Why this target cannot carry the request (a message naming the field), or None."""
        ...

    async def call(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                   timeout_s: float) -> Answer:
        """One attempt; raises `UpstreamError` when it failed in a way fallback may cure."""
        ...

    async def open_stream(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                          timeout_s: float) -> tuple[NativeStream, StreamRelay] | Answer:
        """A streamed attempt: the open stream and its relay, or a whole (non-200) answer."""
        ...


@dataclass(slots=True)
class NativeCall:
    ctx: RequestContext
    door: NativeDoor
    doc: Any
    """The parsed JSON body (edited in place by redaction and the output cap), or None."""
    slots: list[TextSlot] = field(default_factory=list)
    raw: bytes = b""
    """The body as received: forwarded byte for byte when policy changed nothing."""
    same_model: bool = True
    """Only targets serving the model asked for may answer (a native body fits one model)."""
    priced: bool = True
    """False for operations the price book cannot price: cost NULL and an ``unpriced:`` action."""
    max_tokens_key: str | None = None
    """The body's own output cap field, capped to the plan's ``max_tokens``."""
    edited: bool = False

    def body(self) -> bytes:
        """The body to forward: the original bytes unless policy edited the document."""
        if not self.edited or self.doc is None:
            return self.raw
        return orjson.dumps(self.doc)


def collect_texts(value: Any, slots: list[TextSlot], keys: frozenset[str], limit: int = 10_000) -> None:
    """Every string under one of ``keys`` (a list of strings under such a key counts too), depth-first."""
    stack: list[Any] = [value]
    while stack and len(slots) < limit:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, str):
                    if key in keys:
                        slots.append(TextSlot(node, key))
                elif isinstance(item, list) and key in keys:
                    slots.extend(TextSlot(item, i) for i, s in enumerate(item) if isinstance(s, str))
                    stack.extend(s for s in item if not isinstance(s, str))
                elif isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(node, list):
            stack.extend(node)


def slot_messages(slots: list[TextSlot]) -> list[Message]:
    if not slots:
        return NO_TEXT
    return [{"role": "user", "content": slot.container[slot.key]} for slot in slots]


def _mono() -> float:
    return time.monotonic()


async def _ready_now(ctx: RequestContext) -> None:
    return None


class NativeDispatcher:
    """Runs native calls with the chat dispatcher's refusal path, metrics and durable acknowledgements
    (a 2xx is answered only once its event is durable, ``durable_acks.py``)."""

    def __init__(self, dispatcher: Dispatcher, clients: Mapping[str, NativeClient],
                 ready: Callable[[RequestContext], Awaitable[None]] | None = None) -> None:
        self.dispatcher = dispatcher
        self.gateway: Gateway = dispatcher.gateway
        self.metrics = dispatcher.metrics
        self.clients = clients
        self.ready = ready or _ready_now
        """Awaited before admission (a token naming a signing key not loaded yet waits for its fetch)."""

    async def run(self, conn: Connection, call: NativeCall, started: float) -> None:
        gateway, door, ctx = self.gateway, call.door, call.ctx
        await self.ready(ctx)
        decision = SPOOL_FAILING if self.dispatcher.spool_failing() else gateway.admit(ctx, _mono())
        if isinstance(decision, Rejection):
            self.refuse(conn, door, ctx, decision, started)
            return
        plan = decision
        unable = self._narrow(call, plan)
        if unable is not None:
            self._fail(conn, call, plan, unable, started, 0.0, 0.0)
            return
        self._apply_policy(call, plan)
        lanes = self.dispatcher.lanes
        try:
            ticket, shed, waited = await lanes.acquire(plan.lane)
        except asyncio.CancelledError:
            self._cut_off(plan)
            raise
        if ticket is None:
            assert shed is not None
            self._fail(conn, call, plan, shed, started, waited, 0.0)
            return
        try:
            if ctx.stream:
                await self._stream(conn, call, plan, started, waited)
            else:
                await self._complete(conn, call, plan, started, waited)
        except asyncio.CancelledError:
            self._cut_off(plan)
            raise
        except Exception:
            if not plan.finished:
                bug = Rejection(status=500, code="internal_error", message="internal gateway error",
                                outcome="upstream_error", error_type="api_error")
                self.metrics.observe(gateway.finish(plan, status_code=500, now=_mono(), error=bug))
            raise
        finally:
            lanes.release(ticket)

    def refuse(self, conn: Connection, door: ErrorWriter, ctx: RequestContext, rejection: Rejection,
               started: float) -> None:
        """Refused before any upstream call: one event, one error answer in the door's shape."""
        now = _mono()
        event = self.gateway.reject(ctx, rejection, now, total_ms=(now - started) * 1000)
        self.metrics.observe(event)
        headers = [("x-aigw-trace-id", ctx.trace_id), *retry_after_header(rejection.retry_after)]
        door.error(conn, rejection.status, rejection.error_type, rejection.code, rejection.message, headers)

    def refuse_malformed(self, conn: Connection, door: ErrorWriter, ctx: RequestContext, status: int,
                         code: str, message: str, started: float) -> None:
        self.refuse(conn, door, ctx, self.dispatcher.malformed(ctx, status, code, message), started)

    def _narrow(self, call: NativeCall, plan: Plan) -> Rejection | None:
        """Keep the targets that can carry this body; a 400 naming why when none can."""
        first = plan.targets[0]
        kept: list[Target] = []
        reasons: list[str] = []
        for target in plan.targets:
            if call.same_model and target.model != first.model:
                continue
            client = self.clients.get(target.provider)
            why = (f"no client for provider {target.provider!r}" if client is None
                   else call.door.unable(call, target, client))
            if why is None:
                kept.append(target)
            else:
                reasons.append(f"{target.key}: {why}")
        if kept:
            plan.targets = tuple(kept)
            return None
        return Rejection(400, "unsupported_by_target",
                         f"no target can carry this {call.door.operation_label} request: "
                         + "; ".join(reasons or [f"{first.key}: not offered for this API"]),
                         "client_error")

    def _apply_policy(self, call: NativeCall, plan: Plan) -> None:
        if plan.validation_result == "modified":
            for slot, message in zip(call.slots, plan.messages, strict=False):
                if slot.container[slot.key] != message["content"]:
                    slot.container[slot.key] = message["content"]
                    call.edited = True
        key = call.max_tokens_key
        if key is not None and isinstance(call.doc, dict):
            asked = call.doc.get(key)
            if isinstance(asked, int) and not isinstance(asked, bool) and asked > plan.max_tokens:
                call.doc[key] = plan.max_tokens
                call.edited = True

    def _client(self, target: Target) -> NativeClient:
        client = self.clients.get(target.provider)
        if client is None:
            raise UpstreamError("error", 0, f"no client for provider {target.provider!r}")
        return client

    async def _complete(self, conn: Connection, call: NativeCall, plan: Plan, started: float,
                        waited: float) -> None:
        gateway = self.gateway
        upstream_s = inference_s = 0.0
        answer: Answer | None = None
        while (target := gateway.next_target(plan, _mono())) is not None:
            if plan.retry_at:  # a same-target retry is pending: wait out its backoff
                upstream_s += await pause_for_retry(gateway, plan)
            call_start = _mono()
            try:
                timeout = gateway.attempt_timeout(plan, target, call_start)
                if timeout <= 0:
                    outcome = AttemptResult.failure("timeout")
                else:
                    answer = await call.door.call(call, plan, target, self._client(target), timeout)
                    outcome = AttemptResult.success()
            except UpstreamError as exc:
                outcome = AttemptResult.failure(exc.reason, exc.status or None, exc.retry_after)
            except Exception:
                log.exception("native call to %s failed unexpectedly", target.provider)
                self.metrics.handler_errors += 1
                outcome = AttemptResult.failure("error", None)
            call_end = _mono()
            upstream_s += call_end - call_start
            gateway.record_attempt(plan, target, outcome, call_end)
            if outcome.ok:
                inference_s = call_end - call_start
                break
            answer = None
        if answer is None:
            self._fail(conn, call, plan, gateway.exhausted(plan), started, waited, upstream_s)
            return
        blocked = gateway.validate_output(plan, answer.text) if answer.text else None
        now = _mono()
        total_s = now - started
        status = blocked.status if blocked else answer.status
        event = self._finish(call, plan, status, now, answer.usage, inference_s * 1000, None,
                             total_s * 1000, max(0.0, total_s - upstream_s - waited) * 1000, False, blocked)
        headers = response_headers(plan, event)
        if blocked is not None:
            call.door.error(conn, blocked.status, blocked.error_type, blocked.code, blocked.message, headers)
            return
        if 200 <= answer.status < 300 and not await self.dispatcher.durable():
            self._spool_failing(conn, call, headers)
            return
        conn.respond(answer.status, [*answer.headers, *headers], answer.body,
                     content_type=answer.content_type)

    def _spool_failing(self, conn: Connection, call: NativeCall, headers: Headers) -> None:
        """The event of a success could not be made durable: a 503 instead of the 2xx."""
        error = SPOOL_FAILING
        call.door.error(conn, error.status, error.error_type, error.code, error.message,
                        [*headers, *retry_after_header(error.retry_after)])

    async def _open(self, call: NativeCall, plan: Plan) -> tuple[Any, float]:
        """Targets in turn until one opens a stream (or answers whole); (opened or None, failed seconds)."""
        gateway = self.gateway
        upstream_s = 0.0
        while (target := gateway.next_target(plan, _mono())) is not None:
            if plan.retry_at:  # a same-target retry is pending: wait out its backoff
                upstream_s += await pause_for_retry(gateway, plan)
            call_start = _mono()
            try:
                timeout = gateway.attempt_timeout(plan, target, call_start)
                if timeout <= 0:
                    raise UpstreamError("timeout", 0, "the lane's time is used up")
                opened = await call.door.open_stream(call, plan, target, self._client(target), timeout)
                return (target, opened, call_start), upstream_s
            except UpstreamError as exc:
                failure = AttemptResult.failure(exc.reason, exc.status or None, exc.retry_after)
            except Exception:
                log.exception("native stream from %s failed unexpectedly", target.provider)
                self.metrics.handler_errors += 1
                failure = AttemptResult.failure("error", None)
            now = _mono()
            upstream_s += now - call_start
            gateway.record_attempt(plan, target, failure, now)
        return None, upstream_s

    async def _stream(self, conn: Connection, call: NativeCall, plan: Plan, started: float,
                      waited: float) -> None:
        gateway = self.gateway
        opened, upstream_s = await self._open(call, plan)
        if opened is None:
            self._fail(conn, call, plan, gateway.exhausted(plan), started, waited, upstream_s)
            return
        target, result, call_start = opened
        if isinstance(result, Answer):  # the provider refused the request itself: relayed unchanged
            end = _mono()
            gateway.record_attempt(plan, target, AttemptResult.success(), end)
            event = self._finish(call, plan, result.status, end, result.usage, (end - call_start) * 1000,
                                 None, (end - started) * 1000, None, True, None)
            headers = response_headers(plan, event)
            if 200 <= result.status < 300 and not await self.dispatcher.durable():
                self._spool_failing(conn, call, headers)
                return
            conn.respond(result.status, [*result.headers, *headers], result.body,
                         content_type=result.content_type)
            return
        stream, relay = result
        ttft_s: float | None = None
        conn.start_stream(200, response_headers(plan, None, target), relay.content_type)
        error: Rejection | None = None
        cut: Rejection | None = None
        attempt = AttemptResult.success()
        tail = ""
        text_chars = 0
        try:
            async for data in stream.chunks:
                if ttft_s is None:
                    ttft_s = _mono() - call_start
                out, text = relay.feed(data)
                if text:
                    text_chars += len(text)
                    scanned = tail + text
                    error = gateway.validate_output(plan, scanned)
                    if error is not None:
                        await conn.write(relay.error(error.code, error.message))
                        break
                    tail = scanned[-OUTPUT_SCAN_TAIL:]
                await conn.write(out)
                if conn.closed:
                    error = Rejection(status=499, code="client_closed", outcome="client_error",
                                      message="the client closed the connection mid-stream")
                    break
        except UpstreamError as exc:
            attempt = AttemptResult.failure(exc.reason, exc.status or None)
            error = Rejection(status=502, code="stream_interrupted", outcome="upstream_error",
                              error_type="upstream_error",
                              message=f"the upstream stream broke: {exc.message}")
            await conn.write(relay.error(error.code, error.message))
        except asyncio.CancelledError:  # cut by the drain timeout: tell the client, charge, re-raise
            error = cut = SHUTDOWN_CUT
            conn.send(relay.error(error.code, error.message))
        except Exception:
            log.exception("native stream from %s failed unexpectedly", target.provider)
            self.metrics.handler_errors += 1
            attempt = AttemptResult.failure("error", None)
            error = Rejection(status=502, code="stream_interrupted", outcome="upstream_error",
                              error_type="upstream_error", message="the upstream stream broke")
            await conn.write(relay.error(error.code, error.message))
        finally:
            stream.close()
        end = _mono()
        upstream_s += end - call_start
        gateway.record_attempt(plan, target, attempt, end)
        # As chat's streams (dispatch.py): without the provider's usage (hang-up, drain cut, broken
        # upstream) the prompt was consumed all the same, so charge the admission's input estimate
        # and the output produced so far, both within the reservation.
        usage = relay.usage
        if usage.input_tokens is None or usage.output_tokens is None:
            usage = replace(usage)
            if usage.input_tokens is None:
                usage.input_tokens = plan.input_tokens
            if usage.output_tokens is None:
                usage.output_tokens = min(plan.max_tokens, max(1, text_chars // 4)) if text_chars else 0
        now = _mono()
        total_s = now - started
        self._finish(call, plan, 200 if error is None else error.status, now, usage,
                     (end - call_start) * 1000, None if ttft_s is None else ttft_s * 1000, total_s * 1000,
                     max(0.0, total_s - upstream_s - waited) * 1000, True, error)
        if cut is not None:
            conn.send(relay.end())
            conn.end_stream()
            raise asyncio.CancelledError
        if error is None and not await self.dispatcher.durable():  # the stream's end is its ack
            error = SPOOL_FAILING
            await conn.write(relay.error(error.code, error.message))
        await conn.write(relay.end())
        conn.end_stream()

    def _finish(self, call: NativeCall, plan: Plan, status: int, now: float, usage: Usage,
                inference_ms: float | None, ttft_ms: float | None, total_ms: float | None,
                overhead_ms: float | None, streamed: bool, error: Rejection | None) -> dict[str, Any]:
        if not call.priced:
            plan.guardrail_actions = [*plan.guardrail_actions, f"unpriced:{call.ctx.operation}"]
        event = self.gateway.finish(
            plan, status_code=status, now=now, input_tokens=event_input_tokens(usage),
            output_tokens=usage.output_tokens or 0, inference_ms=inference_ms, ttft_ms=ttft_ms,
            total_ms=total_ms, gateway_overhead_ms=overhead_ms, streamed=streamed, error=error,
            cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
            tool_calls=usage.tool_calls, priced=call.priced)
        self.metrics.observe(event)
        return event

    def _fail(self, conn: Connection, call: NativeCall, plan: Plan, error: Rejection, started: float,
              waited: float, upstream_s: float) -> None:
        now = _mono()
        total_s = now - started
        event = self.gateway.finish(plan, status_code=error.status, now=now, total_ms=total_s * 1000,
                                    gateway_overhead_ms=max(0.0, total_s - upstream_s - waited) * 1000,
                                    streamed=plan.ctx.stream, error=error)
        self.metrics.observe(event)
        headers = [*response_headers(plan, event), *retry_after_header(error.retry_after)]
        call.door.error(conn, error.status, error.error_type or error_type(error.status), error.code,
                        error.message, headers)

    def _cut_off(self, plan: Plan) -> None:
        if not plan.finished:
            cut = Rejection(status=503, code="gateway_shutdown", outcome="upstream_error",
                            error_type="server_error", message="the gateway shut down mid-request")
            self.metrics.observe(self.gateway.finish(plan, status_code=503, now=_mono(), error=cut))


def relayed_headers(response: NativeResponse | NativeStream, names: tuple[str, ...]) -> Headers:
    """The provider's response headers a client may need (``x-amzn-bedrock-*`` token counts, ...)."""
    wanted = tuple(n.lower() for n in names)
    return [(k, v) for k, v in response.headers if k.lower().startswith(wanted)]




def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
