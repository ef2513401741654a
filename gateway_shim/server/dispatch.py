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

from gateway_shim.core import Gateway
from gateway_shim.server.doors import Door, Headers
from gateway_shim.server.errors import ApiError, error_type, retry_after_header
from gateway_shim.server.http import Connection
from gateway_shim.server.lanes import AsyncLanes
from gateway_shim.server.metrics import Metrics
from gateway_shim.types import AttemptResult, Plan, Rejection, RequestContext, Target
from gateway_shim.upstream.base import (
    ProviderClient,
    StreamChunk,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    UsageDetails,
)

log = logging.getLogger("aigw.server")
OUTPUT_SCAN_TAIL = 256
"""Streamed output is validated chunk by chunk together with this many previous characters."""


_Opened = tuple[Target, AsyncIterator[StreamChunk], StreamChunk | None, float]


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


SHUTDOWN_CUT = Rejection(503, "gateway_shutdown", "the gateway shut down mid-stream; retry",
                         "upstream_error", "server_error", retry_after=1.0)
SPOOL_FAILING = Rejection(503, "telemetry_unavailable", "the gateway cannot record requests right now "
                          "(its telemetry spool is full); retry later", "upstream_error", "server_error",
                          retry_after=5.0)


async def pause_for_retry(gateway: Gateway, plan: Plan) -> float:
    """Wait out a same-target retry's backoff (``Gateway.retry_wait``; 0 unless one is pending);
    the seconds waited count as upstream time, not gateway overhead."""
    wait = gateway.retry_wait(plan, _mono())
    if wait > 0:
        await asyncio.sleep(wait)
    return wait


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
    def refuse(self, conn: Connection, door: Door, ctx: RequestContext, rejection: Rejection,
               started: float) -> None:
        """A request refused before any upstream call: one event, one error answer."""
        now = _mono()
        event = self.gateway.reject(ctx, rejection, now, total_ms=(now - started) * 1000)
        self.metrics.observe(event)
        headers = [("x-aigw-trace-id", ctx.trace_id), *retry_after_header(rejection.retry_after)]
        door.error(conn, rejection.status, rejection.error_type, rejection.code, rejection.message, headers)

    def refuse_malformed(self, conn: Connection, door: Door, ctx: RequestContext, error: ApiError,
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
        decision = SPOOL_FAILING if self.spool_failing() else gateway.admit(ctx, _mono())
        if isinstance(decision, Rejection):
            self.refuse(conn, door, ctx, decision, started)
            return
        plan = decision
        if gateway.state is not None:  # rate limits and budget decided by the store every replica shares
            try:
                shared = await gateway.state.admit(plan.tenant_id, plan.month, plan.input_tokens,
                                                   plan.reservation_usd)
            except asyncio.CancelledError:
                self._cut_off(plan)
                raise
            refused = gateway.conclude(plan, shared)
            if refused is not None:
                self.refuse(conn, door, ctx, refused, started)
                return
        try:
            ticket, shed, waited = await self.lanes.acquire(plan.lane)
        except asyncio.CancelledError:
            self._cut_off(plan)
            raise
        if ticket is None:
            assert shed is not None
            self._fail(conn, door, plan, shed, started, waited, upstream_s=0.0)
            return
        try:
            if ctx.stream:
                await self._stream(conn, door, plan, started, waited, extra, include_usage)
            else:
                await self._complete(conn, door, plan, started, waited, extra)
        except asyncio.CancelledError:
            self._cut_off(plan)
            raise
        except Exception:
            if not plan.finished:  # a bug: still settle the reservation and record the one event
                bug = Rejection(status=500, code="internal_error", message="internal gateway error",
                                outcome="upstream_error", error_type="api_error")
                self.metrics.observe(gateway.finish(plan, status_code=500, now=_mono(), error=bug))
            raise
        finally:
            self.lanes.release(ticket)

    def _request(self, plan: Plan, target: Target, stream: bool,
                 extra: dict[str, Any] | None) -> UpstreamRequest:
        timeout = self.gateway.attempt_timeout(plan, target, _mono())
        return UpstreamRequest(model=target.model, messages=plan.messages, max_tokens=plan.max_tokens,
                               timeout_s=timeout, stream=stream, extra=extra, trace_id=plan.ctx.trace_id,
                               tenant_id=plan.tenant_id, workflow=plan.ctx.workflow,
                               body=plan.ctx.body, wire=plan.ctx.wire)

    def _client(self, target: Target) -> ProviderClient:
        client = self.clients.get(target.provider)
        if client is None:
            raise UpstreamError("error", 0, f"no client for provider {target.provider!r}")
        return client

    async def _complete(self, conn: Connection, door: Door, plan: Plan, started: float, waited: float,
                        extra: dict[str, Any] | None) -> None:
        gateway = self.gateway
        upstream_s = 0.0
        inference_s = 0.0
        result: UpstreamResult | None = None
        while (target := gateway.next_target(plan, _mono())) is not None:
            if plan.retry_at:  # a same-target retry is pending: wait out its backoff
                upstream_s += await pause_for_retry(gateway, plan)
            call_start = _mono()
            try:
                request = self._request(plan, target, False, extra)
                if request.timeout_s <= 0:
                    outcome = AttemptResult.failure("timeout")
                else:
                    result = await self._client(target).complete(request)
                    outcome = AttemptResult.success()
            except UpstreamError as exc:
                outcome = AttemptResult.failure(exc.reason, exc.status or None, exc.retry_after)
            except Exception as exc:  # an adapter bug counts as a failed attempt, never a crash
                log.exception("provider %s failed unexpectedly", target.provider)
                self.metrics.handler_errors += 1
                outcome = AttemptResult.failure("error", None)
                del exc
            call_end = _mono()
            upstream_s += call_end - call_start
            gateway.record_attempt(plan, target, outcome, call_end)
            if outcome.ok:
                inference_s = call_end - call_start
                break
            result = None
        if result is None:
            self._fail(conn, door, plan, gateway.exhausted(plan), started, waited, upstream_s)
            return
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
            door.error(conn, SPOOL_FAILING.status, SPOOL_FAILING.error_type, SPOOL_FAILING.code,
                       SPOOL_FAILING.message, [*headers, *retry_after_header(SPOOL_FAILING.retry_after)])
            return
        model = plan.served.model if plan.served else ""
        door.success(conn, plan.ctx.trace_id, model, result, inference_s * 1000, headers)

    async def _open_stream(self, plan: Plan, extra: dict[str, Any] | None) -> tuple[_Opened | None, float]:
        """Call targets until one yields its first chunk (so a failure before the first byte falls
        back). Returns ((target, rest of the stream, first chunk, call start) or None when every
        target failed, seconds spent on failed attempts)."""
        gateway = self.gateway
        upstream_s = 0.0
        while (target := gateway.next_target(plan, _mono())) is not None:
            if plan.retry_at:  # a same-target retry is pending: wait out its backoff
                upstream_s += await pause_for_retry(gateway, plan)
            call_start = _mono()
            try:
                request = self._request(plan, target, True, extra)
                if request.timeout_s <= 0:
                    raise UpstreamError("timeout", 0, "the lane's time is used up")
                chunks = await self._client(target).stream(request)
                try:
                    first: StreamChunk | None = await anext(chunks)
                except StopAsyncIteration:
                    first = None
                return (target, chunks, first, call_start), upstream_s
            except UpstreamError as exc:
                failure = AttemptResult.failure(exc.reason, exc.status or None, exc.retry_after)
            except Exception:
                log.exception("provider %s failed unexpectedly", target.provider)
                self.metrics.handler_errors += 1
                failure = AttemptResult.failure("error", None)
            now = _mono()
            upstream_s += now - call_start
            gateway.record_attempt(plan, target, failure, now)
        return None, upstream_s

    async def _stream(self, conn: Connection, door: Door, plan: Plan, started: float, waited: float,
                      extra: dict[str, Any] | None, include_usage: bool) -> None:
        gateway = self.gateway
        opened, upstream_s = await self._open_stream(plan, extra)
        if opened is None:
            self._fail(conn, door, plan, gateway.exhausted(plan), started, waited, upstream_s)
            return
        target, chunks, first, call_start = opened
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
                    error = Rejection(status=499, code="client_closed", outcome="client_error",
                                      message="the client closed the connection mid-stream")
                    break
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    chunk = None
        except UpstreamError as exc:
            attempt = AttemptResult.failure(exc.reason, exc.status or None)
            error = Rejection(status=502, code="stream_interrupted", outcome="upstream_error",
                              error_type="upstream_error",
                              message=f"the upstream stream broke: {exc.message}")
            await conn.write(encoder.error(error.error_type, error.code, error.message))
        except asyncio.CancelledError:  # cut by the drain timeout: tell the client, charge, re-raise
            error = cut = SHUTDOWN_CUT
            conn.send(encoder.error(error.error_type, error.code, error.message))
        except Exception:
            log.exception("stream from %s failed unexpectedly", target.provider)
            self.metrics.handler_errors += 1
            attempt = AttemptResult.failure("error", None)
            error = Rejection(status=502, code="stream_interrupted", outcome="upstream_error",
                              error_type="upstream_error", message="the upstream stream broke")
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
            output_tokens = min(plan.max_tokens, max(1, text_chars // 4)) if text_chars else 0
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
        if (include_usage or encoder.always_usage) and error is None:
            shown = plan.input_tokens if input_tokens is None else input_tokens
            await conn.write(encoder.usage(shown, output_tokens, (end - call_start) * 1000))
        await conn.write(encoder.done())
        conn.end_stream()

    # ---- helpers ----------------------------------------------------------------------------------------
    def _cut_off(self, plan: Plan) -> None:
        """Cancelled at shutdown (after the drain timeout): still one event, and the budget settled."""
        if not plan.finished:
            cut = Rejection(status=503, code="gateway_shutdown", outcome="upstream_error",
                            error_type="server_error", message="the gateway shut down mid-request")
            self.metrics.observe(self.gateway.finish(plan, status_code=503, now=_mono(), error=cut))

    def _fail(self, conn: Connection, door: Door, plan: Plan, error: Rejection, started: float,
              waited: float, upstream_s: float) -> None:
        """An admitted request that ends without an answer (shed, queue timeout, chain exhausted)."""
        now = _mono()
        total_s = now - started
        event = self.gateway.finish(
            plan, status_code=error.status, now=now, total_ms=total_s * 1000,
            gateway_overhead_ms=max(0.0, total_s - upstream_s - waited) * 1000,
            streamed=plan.ctx.stream, error=error)
        self.metrics.observe(event)
        headers = [*self._headers(plan, event), *retry_after_header(error.retry_after)]
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
