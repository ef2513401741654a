"""Decisions every replica must share: rate windows, budget reservations with leases, month seeding.

``open_state(config.state, ...)`` gives the backend the server awaits on each request
(``StateBackend`` in ``base.py``): ``memory`` (the default: this process only) or ``redis`` (every
replica, one atomic script call per event-loop tick). The guarantee and its assumptions:
docs/policy.md, "Limits across replicas".
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
