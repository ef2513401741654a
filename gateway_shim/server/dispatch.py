"""One LLM request from admission to its event: admit → lane slot → attempts with fallback → finish.

Every path ends in exactly one ``Gateway.reject`` or ``Gateway.finish`` call (each emits the event),
and every path answers the client. A success is answered only once its event is durable
(``durable_acks.py``). Provider calls are bounded by the core's attempt timeouts, the
lane wait by its queue timeout, so nothing here can hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from gateway_shim.core import Gateway, screened_chars
from gateway_shim.server.attempts import client_for, first_answer, record_answer
from gateway_shim.server.doors import Door, ErrorWriter, Headers
from gateway_shim.server.errors import ApiError, error_type, retry_after_header
from gateway_shim.server.http import Connection
from gateway_shim.server.lanes import AsyncLanes
from gateway_shim.server.metrics import Metrics
from gateway_shim.server.off_loop import OFF_LOOP_CHARS, off_loop
from gateway_shim.server.stream_endings import (
    OUTPUT_SCAN_TAIL,
    SHUTDOWN_CUT,
    broken_stream,
    client_closed,
    unreported_output_tokens,
)
from gateway_shim.types import AttemptResult, Plan, Rejection, RequestContext, Target
from gateway_shim.upstream.base import (
    ProviderClient,
    StreamChunk,
    UpstreamRequest,
    UpstreamResult,
    UsageDetails,
)

log = logging.getLogger("aigw.server")
UNEXPECTED_CALL = "provider %s failed unexpectedly"
UNEXPECTED_STREAM = "stream from %s failed unexpectedly"


def _mono() -> float:
    return time.monotonic()


def policy_edits(plan: Plan) -> str:
    """What policy changed in the request before it went upstream, for ``x-aigw-edits``: the output
    cap it set or lowered (``max_tokens:N``) and the guardrail actions (``pii_redacted:email``,
    ``degraded``); the event's ``guardrail_actions`` records the same actions."""
    asked = plan.ctx.max_tokens
    edits = [] if asked is not None and asked <= plan.max_tokens else [f"max_tokens:{plan.max_tokens}"]
    edits.extend(plan.guardrail_actions)
    return ",".join(edits)


async def _always_durable() -> bool:
    return True


def _never_failing() -> bool:
    return False


SPOOL_FAILING = Rejection(503, "telemetry_unavailable", "the gateway cannot record requests right now "
                          "(its telemetry spool is full); retry later", "upstream_error", "server_error",
                          retry_after=5.0)


class Dispatcher:
    def __init__(self, gateway: Gateway, clients: Mapping[str, ProviderClient], metrics: Metrics,
                 lanes: AsyncLanes | None = None, *,
                 durable: Callable[[], Awaitable[bool]] = _always_durable,
                 spool_failing: Callable[[], bool] = _never_failing) -> None:
        """One per policy version: a request runs to its end on the dispatcher (and core) that admitted
        it; ``lanes`` are the previous version's, kept when the core took over its lane gate."""
        self.gateway = gateway
        self.clients = clients
        self.metrics = metrics
        self.lanes = lanes if lanes is not None and lanes.gate is gateway.lanes else AsyncLanes(gateway.lanes)
        self.durable = durable
        """Waits until the event just emitted is durable; False: answer 503 instead of the 2xx."""
        self.spool_failing = spool_failing
        """True while events cannot be recorded and the config says to refuse (``on_spool_full``)."""

    # ---- refusals -------------------------------------------------------------------------------------
    def refuse(self, conn: Connection, door: ErrorWriter, ctx: RequestContext, rejection: Rejection,
               started: float) -> None:
        """A request refused before any upstream call: one event, one error answer."""
        now = _mono()
        event = self.gateway.reject(ctx, rejection, now, total_ms=(now - started) * 1000)
        self.metrics.observe(event)
        headers = [("x-aigw-trace-id", ctx.trace_id), *retry_after_header(rejection.retry_after)]
        door.error(conn, rejection.status, rejection.error_type, rejection.code, rejection.message, headers)

    def refuse_malformed(self, conn: Connection, door: ErrorWriter, ctx: RequestContext, error: ApiError,
                         started: float) -> None:
        self.refuse(conn, door, ctx, self.malformed(ctx, error.status, error.code, error.message), started)

    def malformed(self, ctx: RequestContext, status: int, code: str, message: str) -> Rejection:
        """A refusal before policy ran, attributed to the key's tenant when the key is known."""
        tenant_id = self.gateway.tenant_for_key(ctx.api_key) if ctx.api_key else None
        tenant = self.gateway.config.tenants.get(tenant_id) if tenant_id else None
        return Rejection(status=status, code=code, message=message, outcome="client_error",
                         error_type=error_type(status), tenant_id=tenant_id,
                         team=tenant.team if tenant else None, lane=ctx.latency_class,
                         sensitivity=ctx.sensitivity)

    # ---- the lifecycle ----------------------------------------------------------------------------------
    async def run(self, conn: Connection, door: Door, ctx: RequestContext, started: float,
                  extra: dict[str, Any] | None = None, include_usage: bool = False) -> None:
        gateway = self.gateway
        decision = await self.admit(ctx)
        if isinstance(decision, Rejection):
            self.refuse(conn, door, ctx, decision, started)
            return
        plan = decision
        if gateway.state is not None and not await self.admit_shared(conn, door, plan, started):
            return
        try:
            ticket, shed, waited = await self.lanes.acquire(plan.lane)
        except asyncio.CancelledError:
            self.cut_off(plan)
            raise
        if ticket is None:
            assert shed is not None
            self.fail(conn, door, plan, shed, started, waited, upstream_s=0.0)
            return
        try:
            if ctx.stream:
                await self._stream(conn, door, plan, started, waited, extra, include_usage)
            else:
                await self._complete(conn, door, plan, started, waited, extra)
        except asyncio.CancelledError:
            self.cut_off(plan)
            raise
        except Exception:
            self.settle_bug(plan)
            raise
        finally:
            self.lanes.release(ticket)

    async def admit(self, ctx: RequestContext) -> Plan | Rejection:
        """``Gateway.admit``, with a large prompt screened on the worker thread (``off_loop.py``) once its
        key is known to be valid (nobody without one makes the gateway scan a megabyte)."""
        if self.spool_failing():
            return SPOOL_FAILING
        gateway = self.gateway
        screening = None
        if (ctx.api_key and screened_chars(ctx.messages) >= OFF_LOOP_CHARS
                and gateway.tenant_for_key(ctx.api_key, ctx.received_at) is not None):
            screening = await off_loop(gateway.screen, ctx.messages)
        return gateway.admit(ctx, _mono(), screening)

    async def admit_shared(self, conn: Connection, door: ErrorWriter, plan: Plan, started: float) -> bool:
        """The rate limits and budget of a plan ``Gateway.admit`` left pending (``gateway.state`` is
        set: the store every replica shares decides them). False: refused (429, or 503 with the store
        down and ``on_unavailable: refuse``), its event emitted and the client answered. Every door
        takes this step; the plan's lease is settled by ``Gateway.finish``."""
        state = self.gateway.state
        assert state is not None
        try:
            shared = await state.admit(plan.tenant_id, plan.month, plan.input_tokens, plan.reservation_usd)
        except asyncio.CancelledError:
            self.cut_off(plan)
            raise
        refused = self.gateway.conclude(plan, shared)
        if refused is None:
            return True
        self.refuse(conn, door, plan.ctx, refused, started)
        return False

    def _request(self, plan: Plan, target: Target, timeout_s: float, stream: bool,
                 extra: dict[str, Any] | None) -> UpstreamRequest:
        return UpstreamRequest(model=target.model, messages=plan.messages, max_tokens=plan.max_tokens,
                               timeout_s=timeout_s, stream=stream, extra=extra, trace_id=plan.ctx.trace_id,
                               tenant_id=plan.tenant_id, workflow=plan.ctx.workflow,
                               body=plan.ctx.body, wire=plan.ctx.wire)

    def _completion_attempt(self, plan: Plan, target: Target, timeout_s: float,
                            extra: dict[str, Any] | None) -> Awaitable[UpstreamResult]:
        """One non-streamed attempt (an `attempts.Send`)."""
        return client_for(self.clients, target).complete(self._request(plan, target, timeout_s, False, extra))

    async def _stream_attempt(self, plan: Plan, target: Target, timeout_s: float, extra: dict[str, Any] | None
                              ) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None]:
        """One streamed attempt (an `attempts.Send`): it answers with its first chunk (None: an empty
        stream), so that a failure before the first byte still falls back."""
        request = self._request(plan, target, timeout_s, True, extra)
        chunks = await client_for(self.clients, target).stream(request)
        try:
            first: StreamChunk | None = await anext(chunks)
        except StopAsyncIteration:
            first = None
        return chunks, first

    async def _complete(self, conn: Connection, door: Door, plan: Plan, started: float, waited: float,
                        extra: dict[str, Any] | None) -> None:
        gateway = self.gateway
        answered = await first_answer(gateway, self.metrics, plan, self._completion_attempt, extra,
                                      UNEXPECTED_CALL)
        if isinstance(answered, float):  # no target answered
            return self.fail(conn, door, plan, gateway.exhausted(plan), started, waited, answered)
        result, target, call_start, upstream_s = answered
        inference_s = record_answer(gateway, plan, target, call_start)
        upstream_s += inference_s
        blocked = gateway.validate_output(plan, result.text if result.scan is None else result.scan)
        now = _mono()
        total_s = now - started
        event = gateway.finish(
            plan, status_code=blocked.status if blocked else 200, now=now,
            input_tokens=result.input_tokens, output_tokens=result.output_tokens,
            inference_ms=inference_s * 1000, total_ms=total_s * 1000,
            gateway_overhead_ms=max(0.0, total_s - upstream_s - waited) * 1000,
            streamed=False, error=blocked, cache_read_tokens=result.cache_read_tokens,
            cache_write_tokens=result.cache_write_tokens, reasoning_tokens=result.reasoning_tokens,
            tool_calls=result.tool_calls)
        self.metrics.observe(event)
        headers = self._headers(plan, event)
        if blocked is not None:
            door.error(conn, blocked.status, blocked.error_type, blocked.code, blocked.message, headers)
            return
        if not await self.durable():
            return answer_unrecorded(conn, door, headers)
        model = plan.served.model if plan.served else ""
        door.success(conn, plan.ctx.trace_id, model, result, inference_s * 1000, headers)

    async def _stream(self, conn: Connection, door: Door, plan: Plan, started: float, waited: float,
                      extra: dict[str, Any] | None, include_usage: bool) -> None:
        gateway = self.gateway
        answered = await first_answer(gateway, self.metrics, plan, self._stream_attempt, extra,
                                      UNEXPECTED_CALL)
        if isinstance(answered, float):  # no target answered
            return self.fail(conn, door, plan, gateway.exhausted(plan), started, waited, answered)
        (chunks, first), target, call_start, upstream_s = answered
        ttft_s = _mono() - call_start
        encoder = door.stream_encoder(plan.ctx.trace_id, target.model, include_usage)
        headers = self._headers(plan, None, target)
        conn.start_stream(200, headers, encoder.content_type)
        await conn.write(encoder.first())
        input_tokens: int | None = None
        output_tokens: int | None = None
        details = UsageDetails()
        text_chars = 0
        tail = ""
        error: Rejection | None = None
        cut: Rejection | None = None
        attempt = AttemptResult.success()
        chunk = first
        try:
            while chunk is not None:
                if chunk.input_tokens is not None:
                    input_tokens = chunk.input_tokens
                if chunk.output_tokens is not None:
                    output_tokens = chunk.output_tokens
                details.add(chunk)
                if chunk.text or chunk.arguments:
                    text_chars += len(chunk.text) + len(chunk.arguments)
                    scanned = tail + chunk.text + chunk.arguments
                    error = gateway.validate_output(plan, scanned)
                    if error is not None:
                        await conn.write(encoder.error(error.error_type, error.code, error.message))
                        break
                    tail = scanned[-OUTPUT_SCAN_TAIL:]
                await conn.write(encoder.delta(chunk))
                if conn.closed:
                    error = client_closed()
                    break
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    chunk = None
        except asyncio.CancelledError:  # cut by the drain timeout: tell the client, charge, re-raise
            error = cut = SHUTDOWN_CUT
            conn.send(encoder.error(error.error_type, error.code, error.message))
        except Exception as exc:
            attempt, error = broken_stream(exc, target, self.metrics, UNEXPECTED_STREAM)
            await conn.write(encoder.error(error.error_type, error.code, error.message))
        finally:
            closer = getattr(chunks, "aclose", None)
            if chunk is not None and closer is not None:
                try:
                    await closer()
                except Exception:
                    log.debug("closing an upstream stream failed", exc_info=True)
        end = _mono()
        upstream_s += end - call_start
        gateway.record_attempt(plan, target, attempt, end)
        # No usage from the provider (the stream ended before its usage frame: the client hung up, the
        # drain cut it, the upstream broke): the prompt was consumed all the same, so charge the
        # admission's input estimate and the output produced so far, both within the reservation.
        if input_tokens is None:
            input_tokens = plan.input_tokens
        if output_tokens is None:
            output_tokens = unreported_output_tokens(plan, text_chars)
        now = _mono()
        total_s = now - started
        event = gateway.finish(
            plan, status_code=200 if error is None else error.status, now=now,
            input_tokens=input_tokens, output_tokens=output_tokens,
            inference_ms=(end - call_start) * 1000, ttft_ms=ttft_s * 1000, total_ms=total_s * 1000,
            gateway_overhead_ms=max(0.0, total_s - upstream_s - waited) * 1000,
            streamed=True, error=error, cache_read_tokens=details.cache_read_tokens,
            cache_write_tokens=details.cache_write_tokens, reasoning_tokens=details.reasoning_tokens,
            tool_calls=details.tool_calls)
        self.metrics.observe(event)
        if cut is not None:
            conn.send(encoder.done())
            conn.end_stream()
            raise asyncio.CancelledError
        if error is None and not await self.durable():  # the end of the stream is its acknowledgement
            error = SPOOL_FAILING
            await conn.write(encoder.error(error.error_type, error.code, error.message))
        if error is None:  # the held ending, now that the event is durable
            shown = plan.input_tokens if input_tokens is None else input_tokens
            await conn.write(encoder.usage(shown, output_tokens, (end - call_start) * 1000))
        await conn.write(encoder.done())
        conn.end_stream()

    # ---- helpers ----------------------------------------------------------------------------------------
    def cut_off(self, plan: Plan) -> None:
        """Cancelled at shutdown (after the drain timeout): still one event, and the budget settled."""
        self._settle(plan, Rejection(status=503, code="gateway_shutdown", outcome="upstream_error",
                                     error_type="server_error", message="the gateway shut down mid-request"))

    def settle_bug(self, plan: Plan) -> None:
        """An exception escaped the lifecycle (a bug): still one event, and the budget settled."""
        self._settle(plan, Rejection(status=500, code="internal_error", message="internal gateway error",
                                     outcome="upstream_error", error_type="api_error"))

    def _settle(self, plan: Plan, error: Rejection) -> None:
        if not plan.finished:
            event = self.gateway.finish(plan, status_code=error.status, now=_mono(), error=error)
            self.metrics.observe(event)

    def fail(self, conn: Connection, door: ErrorWriter, plan: Plan, error: Rejection, started: float,
             waited: float, upstream_s: float, *, edits_header: bool = True) -> None:
        """An admitted request that ends without an answer (shed, queue timeout, chain exhausted, no
        target can carry a native body); ``x-aigw-edits`` is for chat answers only."""
        now = _mono()
        total_s = now - started
        event = self.gateway.finish(
            plan, status_code=error.status, now=now, total_ms=total_s * 1000,
            gateway_overhead_ms=max(0.0, total_s - upstream_s - waited) * 1000,
            streamed=plan.ctx.stream, error=error)
        self.metrics.observe(event)
        shown = self._headers(plan, event) if edits_header else response_headers(plan, event)
        headers = [*shown, *retry_after_header(error.retry_after)]
        door.error(conn, error.status, error.error_type or error_type(error.status), error.code,
                   error.message, headers)

    @staticmethod
    def _headers(plan: Plan, event: Mapping[str, Any] | None, serving: Target | None = None) -> Headers:
        """``response_headers`` plus ``x-aigw-edits`` (what policy changed in a chat request)."""
        headers = response_headers(plan, event, serving)
        edits = policy_edits(plan)
        if edits:
            headers.append(("x-aigw-edits", edits))
        return headers


def answer_unrecorded(conn: Connection, door: ErrorWriter, headers: Headers) -> None:
    """The event of a success could not be made durable: a 503 instead of the 2xx."""
    error = SPOOL_FAILING
    door.error(conn, error.status, error.error_type, error.code, error.message,
               [*headers, *retry_after_header(error.retry_after)])


def response_headers(plan: Plan, event: Mapping[str, Any] | None, serving: Target | None = None) -> Headers:
    """The x-aigw-* response headers every door sends; ``serving`` is the target answering a stream
    (its attempt is recorded only when the stream ends)."""
    served = serving or plan.served
    headers: Headers = [
        ("x-aigw-trace-id", plan.ctx.trace_id),
        ("x-aigw-route", plan.route),
        ("x-aigw-fallback", "true" if served is not None and (
            served != plan.targets[0] or plan.fallback_reason == "capability") else "false"),
    ]
    if served is not None:
        headers.append(("x-aigw-model", served.model))
    if event is not None and event.get("estimated_cost_usd") is not None:
        headers.append(("x-aigw-cost-usd", f"{event['estimated_cost_usd']:.8f}"))
    return headers
