"""Decisions every replica must share: rate windows, budget reservations with leases, month seeding.

``open_state(config.state, ...)`` gives the backend the server awaits on each request
(``StateBackend`` in ``base.py``): ``memory`` (the default: this process only) or ``redis`` (every
replica, one atomic script call per event-loop tick). The guarantee and its assumptions:
docs/policy.md, "Limits across replicas".

Typical driver (the rate-limit and budget steps of ``Gateway.admit``/``finish``, made async)::

    state = open_state(config.state, budgets, limits, replica_id=gateway_id)
    await state.seed_month(month, read_lake_spend)         # before serving; one replica reads
    state.reseed_from(read_lake_month)                     # if Redis comes back empty: one reads again
    decision = await state.admit(tenant, month, estimated_tokens, reservation_usd)
    if decision.lease is None:       # refusal: requests_per_min | tokens_per_min → 429 + retry_after_s,
        ...                          # budget_exceeded → 429, state_unavailable → 503
    ...                              # decision.degraded → the event's state_degraded
    await state.settle(decision.lease, actual_usd, billed_tokens - estimated_tokens)  # 0 if unbilled
    state.committed(tenant, month)   # degrade pressure; state.gauges() → /metrics; state.close()
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway_shim.config.models import State, TenantLimits
from gateway_shim.state.base import StateBackend
from gateway_shim.state.decisions import Decision, Lease, Refusal, SeedOutcome
from gateway_shim.state.memory import MemoryState

__all__ = ["Decision", "Lease", "MemoryState", "Refusal", "SeedOutcome", "StateBackend", "open_state"]


def open_state(settings: State, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits], *,
               replica_id: str | None = None) -> StateBackend:
    """The configured backend (call inside the running event loop for ``redis``)."""
    if settings.backend == "redis":
        from gateway_shim.state.redis_backend import RedisState  # imported only when configured

        return RedisState(settings, budgets, limits, replica_id=replica_id)
    return MemoryState(budgets, limits)
