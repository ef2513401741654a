"""Degrade under budget pressure: a cheaper first target and a lower output cap.

Once a tenant's month-to-date spend (settled plus reserved) reaches ``degrade_at_budget_pct`` of its
budget, requests on a route with ``degrade`` settings go first to the degrade target, with the
route's own targets kept as fallbacks only when they cost no more per token than that target; the
output cap drops to ``degrade.max_output_tokens``. The event carries ``degraded:budget`` in
``guardrail_actions``.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway_shim.types import Target

DEGRADED_ACTION = "degraded:budget"


def under_pressure(committed_usd: float, budget_usd: float, degrade_at_pct: float | None) -> bool:
    return degrade_at_pct is not None and committed_usd >= budget_usd * degrade_at_pct / 100.0


def degraded_chain(
    targets: tuple[Target, ...],
    degrade_target: Target | None,
    unit_price: Callable[[Target], float],
) -> tuple[Target, ...]:
    """The degrade target first, then the route's targets no dearer per token than it."""
    if degrade_target is None:
        return targets
    ceiling = unit_price(degrade_target)
    rest = tuple(t for t in targets if t != degrade_target and unit_price(t) <= ceiling)
    return (degrade_target, *rest)
