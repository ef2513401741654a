"""The memory backend keeps the single-process semantics: token buckets, the float ledger, own seeding."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from gateway_shim.config.models import State
from gateway_shim.state import MemoryState, open_state
from tests.gateway_shim.state.replicas import MONTH, TENANT, FrozenClock, limits


def test_open_state_defaults_to_memory() -> None:
    state = open_state(State(), {TENANT: 1.0}, limits())
    assert isinstance(state, MemoryState) and not state.degraded and state.gauges() == {}


def test_buckets_refill_continuously_as_the_rate_limiter_always_did() -> None:
    clock = FrozenClock()
    state = MemoryState({TENANT: 1e6}, limits(requests_per_min=30), clock=clock)

    async def run() -> list[bool]:
        first = [(await state.admit(TENANT, MONTH, 1, 0.0)).admitted for _ in range(31)]
        clock.now += 2.0                                  # 30/min refills one request in 2 s
        return [*first, (await state.admit(TENANT, MONTH, 1, 0.0)).admitted,
                (await state.admit(TENANT, MONTH, 1, 0.0)).admitted]

    assert asyncio.run(run()) == [True] * 30 + [False, True, False]


def test_seeding_books_configured_tenants_and_is_its_own_leader() -> None:
    state = MemoryState({TENANT: 10.0}, limits())

    async def read() -> Mapping[str, float]:
        return {TENANT: 9.5, "someone-else": 4.0}

    async def run() -> tuple[object, bool]:
        outcome = await state.seed_month(MONTH, read)
        return outcome, (await state.admit(TENANT, MONTH, 1, 0.6)).admitted

    outcome, admitted = asyncio.run(run())
    assert outcome.leader and outcome.seeded  # type: ignore[attr-defined]
    assert state.committed(TENANT, MONTH) == pytest.approx(9.5)
    assert not admitted


def test_a_policy_reload_keeps_spend_and_applies_the_new_budget() -> None:
    state = MemoryState({TENANT: 1.0}, limits())

    async def run() -> tuple[bool, bool]:
        held = await state.admit(TENANT, MONTH, 1, 0.8)
        assert held.lease is not None
        await state.settle(held.lease, 0.7, 0)
        before = (await state.admit(TENANT, MONTH, 1, 0.5)).admitted
        state.set_policy({TENANT: 2.0}, limits())
        return before, (await state.admit(TENANT, MONTH, 1, 0.5)).admitted

    assert asyncio.run(run()) == (False, True)
    assert state.committed(TENANT, MONTH) == pytest.approx(1.2)
