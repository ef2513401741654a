"""Calling a plan's targets in turn until one answers: the attempt loop every door shares.

Chat (`dispatch.py`) and the native doors (`native_calls.py`) differ only in how one target is called
(a `Send`). Waiting out a same-target retry's backoff, the lane's remaining time, turning a failed
call into the `AttemptResult` that drives fallback, retries and the circuit breaker, and the seconds
spent upstream are decided here, once. A success is left to the caller to record: a stream's attempt
ends only when the stream does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from gateway_shim.core import Gateway
from gateway_shim.server.metrics import Metrics
from gateway_shim.types import AttemptResult, Plan, Target
from gateway_shim.upstream.base import UpstreamError

log = logging.getLogger("aigw.server")

Req = TypeVar("Req")
Ans = TypeVar("Ans")
Client = TypeVar("Client")
Send = Callable[[Plan, Target, float, Req], Awaitable[Ans]]
"""One upstream call: (plan, target, its timeout in seconds, the door's request) → the answer; raises
`UpstreamError` when the call failed in a way fallback may cure."""


def _mono() -> float:
    return time.monotonic()


def client_for(clients: Mapping[str, Client], target: Target) -> Client:
    """The target's provider client; none configured fails the attempt (`UpstreamError`), so the
    chain falls back rather than the request crashing."""
    client = clients.get(target.provider)
    if client is None:
        raise UpstreamError("error", 0, f"no client for provider {target.provider!r}")
    return client


async def pause_for_retry(gateway: Gateway, plan: Plan) -> float:
    """Wait out a same-target retry's backoff (``Gateway.retry_wait``; 0 unless one is pending);
    the seconds waited count as upstream time, not gateway overhead."""
    wait = gateway.retry_wait(plan, _mono())
    if wait > 0:
        await asyncio.sleep(wait)
    return wait


def note_adapter_bug(exc: Exception, target: Target, metrics: Metrics, unexpected: str) -> None:
    """An upstream client raised something other than `UpstreamError`: a bug in its adapter, logged
    (``unexpected`` % the provider) and counted in ``aigw_handler_errors_total``, never a crash."""
    log.error(unexpected, target.provider, exc_info=exc)
    metrics.handler_errors += 1


def failed_attempt(exc: Exception, target: Target, metrics: Metrics, unexpected: str) -> AttemptResult:
    """A failed call as its attempt's outcome; an adapter bug counts as a failed attempt."""
    if isinstance(exc, UpstreamError):
        return AttemptResult.failure(exc.reason, exc.status or None, exc.retry_after)
    note_adapter_bug(exc, target, metrics, unexpected)
    return AttemptResult.failure("error", None)


async def first_answer(gateway: Gateway, metrics: Metrics, plan: Plan, send: Send[Req, Ans], request: Req,
                       unexpected: str) -> tuple[Ans, Target, float, float] | float:
    """Call the plan's targets in turn (the core decides the order, retries and skips) until one
    answers; each failure is recorded. Returns (the answer, its target, when its call started,
    seconds spent upstream before that call) or, when no target answered, the seconds spent
    upstream. The answering attempt is not recorded yet."""
    upstream_s = 0.0
    while (target := gateway.next_target(plan, _mono())) is not None:
        if plan.retry_at:  # a same-target retry is pending: wait out its backoff
            upstream_s += await pause_for_retry(gateway, plan)
        call_start = _mono()
        timeout_s = gateway.attempt_timeout(plan, target, call_start)
        if timeout_s <= 0:
            outcome = AttemptResult.failure("timeout")
        else:
            try:
                return await send(plan, target, timeout_s, request), target, call_start, upstream_s
            except Exception as exc:
                outcome = failed_attempt(exc, target, metrics, unexpected)
        now = _mono()
        upstream_s += now - call_start
        gateway.record_attempt(plan, target, outcome, now)
    return upstream_s


def record_answer(gateway: Gateway, plan: Plan, target: Target, call_start: float) -> float:
    """Record the attempt `first_answer` returned as a success, now; returns the call's seconds."""
    call_end = _mono()
    gateway.record_attempt(plan, target, AttemptResult.success(), call_end)
    return call_end - call_start
