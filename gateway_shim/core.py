"""The gateway's functional core: admit → next_target/record_attempt (per call) → finish, one event each.

Used by ``aigw serve`` (one asyncio loop) and ``aigw simulate`` (a virtual clock): every method takes
``now`` (monotonic seconds) from the caller and never reads a clock; nothing here locks or does I/O
except calling ``emit`` with the finished event.

Typical driver::

    plan = gw.admit(ctx, now)
    if isinstance(plan, Rejection):
        return respond(plan, gw.reject(ctx, plan, now))
    ticket = gw.lanes.acquire(plan.lane, now)          # saturation (may queue or shed)
    ...
    while (target := gw.next_target(plan, now)) is not None:
        result = call(target, plan.messages, plan.max_tokens, gw.attempt_timeout(plan, target, now))
        gw.record_attempt(plan, target, result, now)
        if result.ok:
            break
    error = None if plan_succeeded else gw.exhausted(plan)
    event = gw.finish(plan, status_code=..., input_tokens=..., output_tokens=..., error=error, now=now)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway_shim.config.models import Config
from gateway_shim.routing.saturation import LaneGate
from gateway_shim.types import AttemptResult, Plan, Rejection, RequestContext, Target

Emit = Callable[[dict[str, Any]], None]


class Gateway:
    """Policy, routing, budget and telemetry for one gateway replica (single-threaded)."""

    def __init__(self, config: Config, *, gateway_id: str, emit: Emit) -> None:
        self.config = config
        self.gateway_id = gateway_id
        self.emit = emit
        self.lanes = LaneGate(config.lanes)

    def admit(self, ctx: RequestContext, now: float) -> Plan | Rejection:
        """Decide before any call: auth, contract, lane, guardrails, allowlist, rate limits, budget, degrade.

        A ``Rejection`` is not emitted here: pass it to ``reject`` (which emits its event).
        """
        raise NotImplementedError

    def reject(self, ctx: RequestContext, rejection: Rejection, now: float) -> dict[str, Any]:
        """Emit and return the event of a request refused before any upstream call."""
        raise NotImplementedError

    def next_target(self, plan: Plan, now: float) -> Target | None:
        """The next target to call, skipping those whose breaker is open; ``None`` = chain exhausted."""
        raise NotImplementedError

    def attempt_timeout(self, plan: Plan, target: Target, now: float) -> float:
        """Seconds this attempt may take: the lane's remaining time, capped by the provider's timeout."""
        raise NotImplementedError

    def record_attempt(self, plan: Plan, target: Target, result: AttemptResult, now: float) -> None:
        """Count the attempt and feed the target's circuit breaker."""
        raise NotImplementedError

    def exhausted(self, plan: Plan) -> Rejection:
        """The 502/503/504 answer once every target failed or was skipped."""
        raise NotImplementedError

    def validate_output(self, plan: Plan, text: str) -> Rejection | None:
        """Output guardrails on the model's answer; a ``Rejection`` (403 blocked) withholds it."""
        raise NotImplementedError

    def finish(
        self,
        plan: Plan,
        *,
        status_code: int,
        now: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        inference_ms: float | None = None,
        ttft_ms: float | None = None,
        total_ms: float | None = None,
        gateway_overhead_ms: float | None = None,
        streamed: bool = False,
        error: Rejection | None = None,
    ) -> dict[str, Any]:
        """Settle the budget to the actual cost, emit and return the event (also for failures).

        ``error`` says why an admitted request failed (``exhausted``, a saturation shed or queue
        timeout from ``lanes``, ``validate_output``); its outcome and code go into the event.
        """
        raise NotImplementedError
