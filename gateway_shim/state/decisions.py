"""What the shared-state layer answers: a decision per admission and a lease per reservation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Refusal = Literal["requests_per_min", "tokens_per_min", "budget_exceeded", "state_unavailable"]
"""Why an admission was refused; ``state_unavailable`` only with ``on_unavailable: refuse`` (→ 503)."""

ReadSpend = Callable[[], Awaitable[Mapping[str, float]]]
"""Reads a month's spend per tenant (USD), e.g. from the lake; called by the seeding leader only."""

ReadMonthSpend = Callable[[int], Awaitable[Mapping[str, float]]]
"""Reads the spend per tenant (USD) of the month given as a ``month_key``: how the leader seeds a month
again when the shared store lost its state. Raises when the lake cannot be read (retried later)."""


@dataclass(slots=True, frozen=True)
class Lease:
    """A reservation to settle exactly once with ``settle``."""

    tenant: str
    month: int
    id: str
    amount_usd: float
    shared: bool
    """Held in the shared store; False when held by this replica alone (memory backend, or an outage)."""
    generation: int = 0
    """Which of the shared store's lives granted it (redis: a reset makes the reservation go away)."""


@dataclass(slots=True, frozen=True)
class Decision:
    """One admission's answer: a lease when admitted, else the refusal and when to retry.

    ``spent_usd``/``reserved_usd`` are the tenant's month as the decision saw it (for messages and
    degrade pressure). ``degraded`` marks a decision taken without the shared store (event
    ``state_degraded``). ``retry_after_s`` is set for rate limits and ``state_unavailable``; for
    ``budget_exceeded`` the caller derives it from the spend (next month, or 1 s if reservations may free).
    """

    lease: Lease | None
    refusal: Refusal | None
    retry_after_s: float
    spent_usd: float
    reserved_usd: float
    degraded: bool

    @property
    def admitted(self) -> bool:
        return self.lease is not None


@dataclass(frozen=True)
class SeedOutcome:
    """How a month's seeding went for this replica."""

    leader: bool
    """This replica read the spend and wrote it (False: another replica did, or seeding failed)."""
    seeded: bool
    """The month is seeded in the store (by anyone); False after a timeout or with the store down."""
    by_tenant: dict[str, float]
    """What this replica read (empty unless it read)."""
    degraded: bool = False
