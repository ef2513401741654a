"""Awaiting a lane slot: the async side of the core's pure saturation state machine (`LaneGate`).

A queued request waits on a future; a release hands its slot to the next queued ticket by resolving
that ticket's future; a timer resolves it with False at the queue deadline. Nothing here can hang:
every wait is bounded by the lane's queue timeout.
"""

from __future__ import annotations

import asyncio

from gateway_shim.routing.lane_queues import QUEUED, RUNNING, LaneGate, Ticket
from gateway_shim.types import Rejection


class AsyncLanes:
    def __init__(self, gate: LaneGate) -> None:
        self.gate = gate
        self.loop = asyncio.get_running_loop()

    async def acquire(self, lane: str) -> tuple[Ticket | None, Rejection | None, float]:
        """(running ticket, None, waited seconds) or (None, why it was shed or timed out, waited)."""
        now = self.loop.time()
        future: asyncio.Future[bool] = self.loop.create_future()
        outcome = self.gate.acquire(lane, now, future)
        if isinstance(outcome, Rejection):
            return None, outcome, 0.0
        if outcome.state == RUNNING:
            return outcome, None, 0.0
        timer = self.loop.call_at(outcome.deadline, _give_up, future)
        try:
            granted = await future
        except asyncio.CancelledError:
            if outcome.state == QUEUED:
                self.gate.cancel(outcome)
            elif outcome.state == RUNNING:
                self.release(outcome)
            raise
        finally:
            timer.cancel()
        waited = self.loop.time() - now
        if granted and outcome.state == RUNNING:
            return outcome, None, waited
        if outcome.state == QUEUED:
            self.gate.cancel(outcome)
        self.gate.expire(self.loop.time())
        return None, self.gate.queue_timeout(outcome), waited

    def release(self, ticket: Ticket) -> None:
        """Free the slot; wake the next queued waiter that still wants it."""
        now = self.loop.time()
        following = self.gate.release(ticket, now)
        while following is not None:
            future = following.payload
            if isinstance(future, asyncio.Future) and not future.done():
                future.set_result(True)
                return
            following = self.gate.release(following, now)


def _give_up(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(False)
