"""Building replicas of either backend for the shared-state tests, and reading what Redis holds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from gateway_shim.config.models import State, TenantLimits
from gateway_shim.state.base import StateBackend
from gateway_shim.state.memory import MemoryState
from gateway_shim.state.redis_backend import RedisState

TENANT = "acme"
MONTH = 2026 * 12 + 11


class FrozenClock:
    """A monotonic clock that moves only when told (the memory backend's token buckets)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Fleet:
    """N replicas of one backend; ``spent``/``reserved`` read the tenant's month from the source of truth."""

    replicas: list[StateBackend]
    spent: Callable[[], float]
    reserved: Callable[[], float]

    async def close(self) -> None:
        for replica in {id(r): r for r in self.replicas}.values():
            await replica.close()


def limits(requests_per_min: int = 10_000, tokens_per_min: int = 10_000_000) -> dict[str, TenantLimits]:
    return {TENANT: TenantLimits(requests_per_min=requests_per_min, tokens_per_min=tokens_per_min)}


def memory_fleet(n: int, budget: float, lim: dict[str, TenantLimits]) -> Fleet:
    """One process serves every "replica" (the memory backend cannot be shared)."""
    state = MemoryState({TENANT: budget}, lim, clock=FrozenClock())
    return Fleet([state] * n, lambda: state.ledger.spent(TENANT, MONTH),
                 lambda: state.ledger.reserved(TENANT, MONTH))


def redis_settings(url: str, prefix: str | None = None, **overrides: object) -> State:
    fields: dict[str, object] = {"backend": "redis", "url": url,
                                 "key_prefix": prefix or f"t{uuid.uuid4().hex[:8]}:"}
    fields.update(overrides)
    return State.model_validate(fields)


def redis_fleet(n: int, budget: float, lim: dict[str, TenantLimits], url: str, **overrides: object) -> Fleet:
    """N independent clients (own connection pools), as N gateway processes would have."""
    settings = redis_settings(url, **overrides)
    replicas: list[StateBackend] = [RedisState(settings, {TENANT: budget}, lim, replica_id=f"r{i}")
                                    for i in range(n)]
    return Fleet(replicas, lambda: month_field(url, settings.key_prefix, "s"),
                 lambda: month_field(url, settings.key_prefix, "r"))


def month_field(url: str, prefix: str, field: str) -> float:
    """The tenant's month as stored: ``s`` = spent, ``r`` = reserved (USD)."""
    client = redis.Redis.from_url(url)
    try:
        value = client.hget(f"{prefix}b:{TENANT}:{MONTH}", field)
    finally:
        client.close()
    return int(value or 0) / 1e9
