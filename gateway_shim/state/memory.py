"""The default backend: every decision in this process (one replica; nothing to configure)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from gateway_shim.config.models import TenantLimits
from gateway_shim.policy.budget_ledger import BudgetLedger
from gateway_shim.policy.rate_limit import RateLimiter
from gateway_shim.state.base import Gauges
from gateway_shim.state.decisions import Decision, Lease, ReadMonthSpend, ReadSpend, SeedOutcome
from gateway_shim.state.local import LocalDecider


class MemoryState:
    """``BudgetLedger`` and ``RateLimiter`` behind the async backend interface (no I/O, no await)."""

    name = "memory"

    def __init__(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._local = LocalDecider(budgets, limits, clock=clock)

    @property
    def ledger(self) -> BudgetLedger:
        return self._local.ledger

    @property
    def rates(self) -> RateLimiter:
        return self._local.rates

    async def admit(self, tenant: str, month: int, tokens: int, reservation_usd: float) -> Decision:
        return self._local.admit(tenant, month, tokens, reservation_usd)

    async def settle(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        self._local.settle(lease, actual_usd, tokens_delta)

    def settle_soon(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        self._local.settle(lease, actual_usd, tokens_delta)

    async def seed_month(self, month: int, read: ReadSpend, timeout_s: float = 60.0) -> SeedOutcome:
        """One process is its own leader: read and seed each configured tenant with some spend."""
        by_tenant = dict(await read())
        ledger = self._local.ledger
        for tenant, spent in by_tenant.items():
            if spent and self._local.knows(tenant):
                ledger.seed(tenant, month, spent)
        return SeedOutcome(True, True, by_tenant)

    def reseed_from(self, read: ReadMonthSpend, timeout_s: float = 60.0) -> None:
        """This process's memory cannot lose its state while it runs: nothing to read again."""

    def committed(self, tenant: str, month: int) -> float:
        return self._local.ledger.committed(tenant, month)

    def set_policy(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits]) -> None:
        self._local.set_policy(budgets, limits)

    @property
    def degraded(self) -> bool:
        return False

    def gauges(self) -> Gauges:
        return {}

    async def close(self) -> None:
        return None
