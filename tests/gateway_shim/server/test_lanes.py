"""Awaiting lane slots on the core's saturation state machine: grants, queue timeouts, cancellation."""

from __future__ import annotations

import asyncio

from gateway_shim.config.models import Lane, Slo
from gateway_shim.routing.lane_queues import LaneGate
from gateway_shim.server.lanes import AsyncLanes

LANE = Lane(timeout_s=5, max_output_tokens=10, priority=0, max_concurrency=1, max_queue=2,
            queue_timeout_ms=100, slo=Slo(latency_ms=100, availability=0.9))


def test_a_release_hands_the_slot_to_the_next_waiter() -> None:
    async def scenario() -> tuple[bool, bool, float]:
        lanes = AsyncLanes(LaneGate({"standard": LANE}))
        first, _, _ = await lanes.acquire("standard")
        assert first is not None
        waiter = asyncio.create_task(lanes.acquire("standard"))
        await asyncio.sleep(0.01)
        lanes.release(first)
        second, shed, waited = await waiter
        return second is not None, shed is None, waited

    granted, not_shed, waited = asyncio.run(scenario())
    assert granted and not_shed and 0 < waited < 0.1


def test_a_waiter_gives_up_at_the_queue_timeout_and_a_full_queue_sheds() -> None:
    async def scenario() -> list[tuple[int | None, str | None]]:
        lanes = AsyncLanes(LaneGate({"standard": LANE}))
        holder, _, _ = await lanes.acquire("standard")
        results = await asyncio.gather(*[lanes.acquire("standard") for _ in range(3)])
        assert holder is not None
        lanes.release(holder)
        again, _, _ = await lanes.acquire("standard")  # the slot is free again: timed-out waiters left
        assert again is not None
        return [(r.status, r.code) if r else (None, None) for _, r, _ in results]

    outcomes = asyncio.run(scenario())
    assert sorted(outcomes) == [(429, "lane_saturated"), (503, "queue_timeout"), (503, "queue_timeout")]


def test_a_cancelled_waiter_leaves_the_queue() -> None:
    async def scenario() -> tuple[int, int]:
        gate = LaneGate({"standard": LANE})
        lanes = AsyncLanes(gate)
        holder, _, _ = await lanes.acquire("standard")
        waiter = asyncio.create_task(lanes.acquire("standard"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert holder is not None
        lanes.release(holder)
        return gate.snapshot()["standard"]

    assert asyncio.run(scenario()) == (0, 0)
