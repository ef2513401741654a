"""The interface the server calls for every request's shared decisions (both backends implement it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway_shim.config.models import TenantLimits
from gateway_shim.state.decisions import Decision, Lease, ReadMonthSpend, ReadSpend, SeedOutcome

Gauges = dict[str, list[tuple[dict[str, str], float]]]


class StateBackend(Protocol):
    name: str

    async def admit(self, tenant: str, month: int, tokens: int, reservation_usd: float) -> Decision:
        """Requests/min and tokens/min for ``tokens`` estimated prompt tokens, then reserve
        ``reservation_usd`` of the month's budget: atomically, rate first (a budget refusal keeps the
        rate taken, as ``Gateway.admit`` always did)."""
        ...

    async def settle(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        """Replace the reservation by ``actual_usd`` and correct the tokens window by ``tokens_delta``
        (actual input + output minus the estimate; 0 when nothing was billed). Exactly once per lease."""
        ...

    def settle_soon(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        """``settle`` without waiting for it to be applied (the server's ``Gateway.finish`` is synchronous);
        it is applied in order, and ``close`` sends what is still queued."""
        ...

    async def seed_month(self, month: int, read: ReadSpend, timeout_s: float = 60.0) -> SeedOutcome:
        """Month-to-date spend from ``read()``, written once for all replicas (the first to claim)."""
        ...

    def reseed_from(self, read: ReadMonthSpend, timeout_s: float = 60.0) -> None:
        """How to read a month's spend again if the shared store turns out to have lost its state
        (memory: nothing to lose). Without it, ``seed_month``'s ``read`` is used."""
        ...

    def committed(self, tenant: str, month: int) -> float:
        """Spend plus reservations as last seen (exact for memory): the degrade-pressure input."""
        ...

    def set_policy(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits]) -> None:
        """New budgets and limits (a policy reload); spend, reservations and windows carry on."""
        ...

    @property
    def degraded(self) -> bool:
        """Decisions are being taken without the shared store right now."""
        ...

    def gauges(self) -> Gauges:
        """For ``/metrics``: name → [(labels, value)]."""
        ...

    async def close(self) -> None: ...
