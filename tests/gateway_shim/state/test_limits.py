"""The bound, for both backends: budgets never overspent, requests/min exact, tokens/min corrected.

Memory: one process takes all the traffic. Redis: 3 replicas with their own connection pools,
requests dealt round-robin, against the session's private redis-server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway_shim.config.models import TenantLimits
from gateway_shim.state.decisions import Decision
from tests.gateway_shim.state.replicas import MONTH, TENANT, Fleet, limits, memory_fleet, redis_fleet
from tests.helpers import RedisServer

MakeFleet = Callable[[int, float, dict[str, TenantLimits]], Fleet]


@pytest.fixture(params=["memory", "redis"])
def make_fleet(request: pytest.FixtureRequest) -> MakeFleet:
    if request.param == "memory":
        return memory_fleet
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda n, budget, lim: redis_fleet(n, budget, lim, server.url)


def test_300_concurrent_requests_never_spend_more_than_a_tight_budget(make_fleet: MakeFleet) -> None:
    budget, reservation = 1.0, 1 / 64  # exact in binary: the float ledger fits exactly 64
    settled: list[float] = []

    async def one(fleet: Fleet, i: int) -> Decision:
        replica = fleet.replicas[i % len(fleet.replicas)]
        decision = await replica.admit(TENANT, MONTH, 50, reservation)
        if decision.lease is not None:
            await asyncio.sleep(0.001 * (i % 7))
            actual = reservation * (0.3 + 0.1 * (i % 8))  # 30 % to 100 % of the worst case
            await replica.settle(decision.lease, actual, -10)
            settled.append(actual)
        return decision

    async def run() -> tuple[list[Decision], float, float]:
        fleet = make_fleet(3, budget, limits())
        try:
            decisions = await asyncio.gather(*(one(fleet, i) for i in range(300)))
            return decisions, fleet.spent(), fleet.reserved()
        finally:
            await fleet.close()

    decisions, spent, reserved = asyncio.run(run())
    admitted = sum(d.admitted for d in decisions)
    assert admitted >= round(budget / reservation)  # the worst case fits 64 times; settling frees more
    assert admitted < 300
    assert {d.refusal for d in decisions if not d.admitted} == {"budget_exceeded"}
    assert reserved == pytest.approx(0.0, abs=1e-9)
    assert spent == pytest.approx(sum(settled), abs=1e-6)
    assert spent <= budget + 1e-9


def test_a_30_per_minute_limit_admits_exactly_30_across_replicas(make_fleet: MakeFleet) -> None:
    async def run() -> list[Decision]:
        fleet = make_fleet(3, 1e6, limits(requests_per_min=30))
        try:
            first = await asyncio.gather(*(fleet.replicas[i % 3].admit(TENANT, MONTH, 10, 0.001)
                                           for i in range(60)))
            later = [await fleet.replicas[i % 3].admit(TENANT, MONTH, 10, 0.001) for i in range(30)]
            return [*first, *later]
        finally:
            await fleet.close()

    decisions = asyncio.run(run())
    assert sum(d.admitted for d in decisions) == 30
    refused = [d for d in decisions if not d.admitted]
    assert {d.refusal for d in refused} == {"requests_per_min"}
    assert all(0 < d.retry_after_s <= 60 for d in refused)


def test_tokens_per_minute_counts_estimates_then_corrects_by_the_actual_usage(make_fleet: MakeFleet) -> None:
    async def run() -> list[Decision]:
        fleet = make_fleet(3, 1e6, limits(tokens_per_min=1000))
        a, b, c = fleet.replicas
        try:
            held = [await r.admit(TENANT, MONTH, 300, 0.001) for r in (a, b, c)]
            refused = await a.admit(TENANT, MONTH, 300, 0.001)
            lease = held[0].lease
            assert lease is not None
            await a.settle(lease, 0.0005, -250)        # used 50 tokens, not 300: 250 back
            readmitted = await b.admit(TENANT, MONTH, 300, 0.001)
            return [*held, refused, readmitted]
        finally:
            await fleet.close()

    decisions = asyncio.run(run())
    assert [d.admitted for d in decisions] == [True, True, True, False, True]
    assert decisions[3].refusal == "tokens_per_min"
    assert decisions[3].retry_after_s > 0


def test_a_budget_refusal_reports_spend_and_reservations(make_fleet: MakeFleet) -> None:
    async def run() -> Decision:
        fleet = make_fleet(2, 1.0, limits())
        try:
            first = await fleet.replicas[0].admit(TENANT, MONTH, 10, 0.6)
            assert first.lease is not None
            await fleet.replicas[0].settle(first.lease, 0.5, 0)
            held = await fleet.replicas[1].admit(TENANT, MONTH, 10, 0.3)
            assert held.admitted
            return await fleet.replicas[0].admit(TENANT, MONTH, 10, 0.3)
        finally:
            await fleet.close()

    refused = asyncio.run(run())
    assert refused.refusal == "budget_exceeded"
    assert (refused.spent_usd, refused.reserved_usd) == (pytest.approx(0.5), pytest.approx(0.3))
    assert not refused.degraded
