"""The lifecycle of a native-body request (embeddings, InvokeModel, Anthropic Messages, any other
``bedrock-runtime`` operation): the same admit → (with ``state.backend: redis``, the shared store's
answer: ``Dispatcher.admit_shared``) → lane slot → attempts with fallback → one event as chat
(`dispatch.py`), but the body travels as the application wrote it.

A door parses its body into a `NativeCall`: the request context for policy (its ``messages`` are the
body's texts, one per `TextSlot`, so guardrails, token estimates and redaction work on them) and a
`NativeDoor` that knows how to call a target and answer the client. When redaction changed a text,
it is written back into the body at its slot before the body goes upstream; the lane's output cap is
written into the body's own ``max_tokens`` when the door has one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from gateway_shim.core import Gateway
from gateway_shim.server.attempts import client_for, first_answer, record_answer
from gateway_shim.server.dispatch import SPOOL_FAILING, Dispatcher, answer_unrecorded, response_headers
from gateway_shim.server.doors import ErrorWriter, Headers
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Connection
from gateway_shim.server.stream_endings import (
    OUTPUT_SCAN_TAIL,
    SHUTDOWN_CUT,
    HeldEnding,
    broken_stream,
    client_closed,
    unreported_output_tokens,
)
from gateway_shim.types import AttemptResult, Message, Plan, Rejection, RequestContext, Target
from gateway_shim.upstream.native import NativeClient, NativeResponse, NativeStream
from gateway_shim.wire.anthropic_stream import MessageTally

UNEXPECTED_CALL = "native call to %s failed unexpectedly"
UNEXPECTED_STREAM = "native stream from %s failed unexpectedly"
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

    @staticmethod
    def tallied(tally: MessageTally) -> Usage:
        """The usage an Anthropic answer reported, as its tally read it."""
        return Usage(tally.input_tokens, tally.output_tokens, tally.cache_read_tokens,
                     tally.cache_write_tokens, tally.tool_calls)


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
    ending: HeldEnding
    """The stream's closing frames, held by ``feed`` and sent once the event is durable."""

    @property
    def usage(self) -> Usage:
        """What the provider reported so far."""
        ...

    def feed(self, data: bytes) -> tuple[bytes, str]:
        """(bytes for the client, text seen in them)."""
        ...

    def error(self, code: str, message: str) -> bytes: ...

    def end(self) -> bytes: ...


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
    """Runs native calls with the chat dispatcher's shared-state admission (``admit_shared``),
    refusals, failures, metrics and durable acknowledgements (a 2xx is answered only once its event
    is durable, ``durable_acks.py``) and the attempt loop chat uses (``attempts.py``); only how a
    target is called and answered is native."""

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
        decision = await self.dispatcher.admit(ctx)
        if isinstance(decision, Rejection):
            self.dispatcher.refuse(conn, door, ctx, decision, started)
            return
        plan = decision
        unable = self._narrow(call, plan)
        if unable is not None:
            self._fail(conn, call, plan, unable, started, 0.0, 0.0)
            return
        # Asked after narrowing: a body no target can carry takes nothing from the shared limits.
        if gateway.state is not None and not await self.dispatcher.admit_shared(conn, door, plan, started):
            return
        self._apply_policy(call, plan)
        lanes = self.dispatcher.lanes
        try:
            ticket, shed, waited = await lanes.acquire(plan.lane)
        except asyncio.CancelledError:
            self.dispatcher.cut_off(plan)
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
            self.dispatcher.cut_off(plan)
            raise
        except Exception:
            self.dispatcher.settle_bug(plan)
            raise
        finally:
            lanes.release(ticket)

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

    def _call_attempt(self, plan: Plan, target: Target, timeout_s: float,
                      call: NativeCall) -> Awaitable[Answer]:
        """One non-streamed attempt (an `attempts.Send`)."""
        return call.door.call(call, plan, target, client_for(self.clients, target), timeout_s)

    def _stream_attempt(self, plan: Plan, target: Target, timeout_s: float, call: NativeCall
                        ) -> Awaitable[tuple[NativeStream, StreamRelay] | Answer]:
        """One streamed attempt (an `attempts.Send`): the open stream, or the provider's whole answer."""
        return call.door.open_stream(call, plan, target, client_for(self.clients, target), timeout_s)

    async def _complete(self, conn: Connection, call: NativeCall, plan: Plan, started: float,
                        waited: float) -> None:
        gateway = self.gateway
        answered = await first_answer(gateway, self.metrics, plan, self._call_attempt, call, UNEXPECTED_CALL)
        if isinstance(answered, float):  # no target answered
            return self._fail(conn, call, plan, gateway.exhausted(plan), started, waited, answered)
        answer, target, call_start, upstream_s = answered
        inference_s = record_answer(gateway, plan, target, call_start)
        upstream_s += inference_s
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
            answer_unrecorded(conn, call.door, headers)
            return
        conn.respond(answer.status, [*answer.headers, *headers], answer.body,
                     content_type=answer.content_type)

    async def _stream(self, conn: Connection, call: NativeCall, plan: Plan, started: float,
                      waited: float) -> None:
        gateway = self.gateway
        answered = await first_answer(gateway, self.metrics, plan, self._stream_attempt, call,
                                      UNEXPECTED_STREAM)
        if isinstance(answered, float):  # no target answered
            return self._fail(conn, call, plan, gateway.exhausted(plan), started, waited, answered)
        result, target, call_start, upstream_s = answered
        if isinstance(result, Answer):  # the provider refused the request itself: relayed unchanged
            end = _mono()
            gateway.record_attempt(plan, target, AttemptResult.success(), end)
            event = self._finish(call, plan, result.status, end, result.usage, (end - call_start) * 1000,
                                 None, (end - started) * 1000, None, True, None)
            headers = response_headers(plan, event)
            if 200 <= result.status < 300 and not await self.dispatcher.durable():
                answer_unrecorded(conn, call.door, headers)
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
                    error = client_closed()
                    break
        except asyncio.CancelledError:  # cut by the drain timeout: tell the client, charge, re-raise
            error = cut = SHUTDOWN_CUT
            conn.send(relay.error(error.code, error.message))
        except Exception as exc:
            attempt, error = broken_stream(exc, target, self.metrics, UNEXPECTED_STREAM)
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
                usage.output_tokens = unreported_output_tokens(plan, text_chars)
        now = _mono()
        total_s = now - started
        self._finish(call, plan, 200 if error is None else error.status, now, usage,
                     (end - call_start) * 1000, None if ttft_s is None else ttft_s * 1000, total_s * 1000,
                     max(0.0, total_s - upstream_s - waited) * 1000, True, error)
        if cut is not None:
            conn.send(relay.end())
            conn.end_stream()
            raise asyncio.CancelledError
        if error is None and not await self.dispatcher.durable():  # the last frames are its ack
            error = SPOOL_FAILING
            await conn.write(relay.error(error.code, error.message))
        if error is None:
            await conn.write(relay.ending.release())
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
        self.dispatcher.fail(conn, call.door, plan, error, started, waited, upstream_s, edits_header=False)


def relayed_headers(response: NativeResponse | NativeStream, names: tuple[str, ...]) -> Headers:
    """The provider's response headers a client may need (``x-amzn-bedrock-*`` token counts, ...)."""
    wanted = tuple(n.lower() for n in names)
    return [(k, v) for k, v in response.headers if k.lower().startswith(wanted)]


def required_model(doc: dict[str, Any], what: str) -> str:
    """The body's ``model``, which a native body must name (``what`` words the 400)."""
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "invalid_model", f"'model' must name {what}")
    return model


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
