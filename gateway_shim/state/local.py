"""Budget and rate decisions held by one process, with the pure ledger and token buckets.

The memory backend decides everything here. The redis backend decides here only while Redis is
unreachable, with ``share`` = the replica count: each tenant-month then gets ``1/share`` of what was
left (budget minus spend and reservations as last seen from the store) and each rate limit ``1/share``
of its allowance, so that the replicas together stay within the limits they would have had together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from gateway_shim.config.models import TenantLimits
from gateway_shim.policy.budget_ledger import BudgetLedger
from gateway_shim.policy.rate_limit import RateLimiter
from gateway_shim.state.decisions import Decision, Lease, Refusal


def shared_limits(limits: Mapping[str, TenantLimits], share: int) -> dict[str, TenantLimits]:
    """Each limit divided among ``share`` replicas (at least 1 a minute, so nobody is locked out)."""
    if share == 1:
        return dict(limits)
    return {tenant: TenantLimits(requests_per_min=max(1, lim.requests_per_min // share),
                                 tokens_per_min=max(1, lim.tokens_per_min // share))
            for tenant, lim in limits.items()}


class LocalDecider:
    """Rate limits then a budget reservation, the order and semantics of ``Gateway.admit``."""

    __slots__ = ("_budgets", "_clock", "_committed", "_limits", "_opened", "_share", "lease_id", "ledger",
                 "rates")

    def __init__(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits], *,
                 share: int = 1, committed: Mapping[tuple[str, int], float] | None = None,
                 clock: Callable[[], float] = time.monotonic, lease_id: str = "") -> None:
        self._budgets = dict(budgets)
        self._limits = dict(limits)
        self._share = share
        self._committed = dict(committed or {})
        self._opened: set[tuple[str, int]] = set()
        self._clock = clock
        self.lease_id = lease_id
        self.ledger = BudgetLedger(budgets)
        self.rates = RateLimiter(shared_limits(limits, share))

    def set_policy(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits]) -> None:
        """New budgets and limits (a policy reload): spend, reservations and bucket levels carry on."""
        self._budgets.update(budgets)
        self._limits.update(limits)
        self.ledger.set_budgets(budgets)
        self.rates.set_limits(shared_limits(limits, self._share))

    def knows(self, tenant: str) -> bool:
        return tenant in self._budgets

    def admit(self, tenant: str, month: int, tokens: int, reservation_usd: float) -> Decision:
        degraded = self._share > 1 or self.lease_id != ""
        if degraded and (tenant, month) not in self._opened:
            self._open(tenant, month)
        ledger = self.ledger
        limited = self.rates.acquire(tenant, tokens, self._clock())
        if limited is not None:
            which: Refusal = "requests_per_min" if limited[0] == "requests_per_min" else "tokens_per_min"
            return Decision(None, which, limited[1], ledger.spent(tenant, month),
                            ledger.reserved(tenant, month), degraded)
        if not ledger.try_reserve(tenant, month, reservation_usd):
            return Decision(None, "budget_exceeded", 0.0, ledger.spent(tenant, month),
                            ledger.reserved(tenant, month), degraded)
        return Decision(Lease(tenant, month, self.lease_id, reservation_usd, False), None, 0.0,
                        ledger.spent(tenant, month), ledger.reserved(tenant, month), degraded)

    def settle(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        """Replace the reservation by the actual cost; correct the tokens window by ``tokens_delta``."""
        if tokens_delta:
            self.rates.charge(lease.tenant, tokens_delta, self._clock())
        self.ledger.settle(lease.tenant, lease.month, lease.amount_usd, actual_usd)

    def _open(self, tenant: str, month: int) -> None:
        """This replica's share of what was left: booked as spend so the ledger's usual check applies."""
        self._opened.add((tenant, month))
        budget = self._budgets[tenant]
        left = max(0.0, budget - self._committed.get((tenant, month), 0.0))
        self.ledger.seed(tenant, month, budget - left / self._share)
