"""Per-lane concurrency and queues with priorities, as a pure state machine (no clock, no locks).

``acquire`` → a running ticket, a queued ticket, or a shed ``Rejection`` (429/503 with retry_after);
``release`` frees a slot and says which queued ticket starts next; ``expire`` collects queue timeouts.
Priority: while a higher-priority lane has a backlog, lower-priority lanes stop queueing; when that
backlog reaches half its queue, they shed every new arrival. Batch sheds first, then standard;
interactive only sheds when its own queue is full. See docs/policy.md, "Saturation".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway_shim.config.models import Lane
from gateway_shim.types import Rejection

RUNNING = "running"
QUEUED = "queued"
EXPIRED = "expired"
CANCELLED = "cancelled"
DONE = "done"


@dataclass(slots=True, eq=False)
class Ticket:
    """A request's place in a lane. ``payload`` is the caller's (a future, a simulated request, ...)."""

    lane: str
    state: str
    enqueued_at: float
    deadline: float
    payload: object = None


@dataclass(slots=True, eq=False)
class _LaneState:
    name: str
    priority: int
    max_concurrency: int
    max_queue: int
    queue_timeout_s: float
    retry_after_s: float
    higher: list[_LaneState] = field(default_factory=list)
    running: int = 0
    queue: deque[Ticket] = field(default_factory=deque)


class LaneGate:
    """The saturation state machine for all lanes of one gateway."""

    def __init__(self, lanes: Mapping[str, Lane]) -> None:
        self._lanes: dict[str, _LaneState] = {
            name: _LaneState(
                name=name,
                priority=lane.priority,
                max_concurrency=lane.max_concurrency,
                max_queue=lane.max_queue,
                queue_timeout_s=lane.queue_timeout_ms / 1000.0,
                retry_after_s=float(max(1, math.ceil(lane.queue_timeout_ms / 1000.0))),
            )
            for name, lane in lanes.items()
        }
        for state in self._lanes.values():
            state.higher = [o for o in self._lanes.values() if o.priority < state.priority]
        self._expired: list[Ticket] = []

    def acquire(self, lane: str, now: float, payload: object = None) -> Ticket | Rejection:
        """Run now (``state == "running"``), wait (``"queued"``, until ``deadline``), or shed."""
        state = self._lanes[lane]
        may_queue = True
        for higher in state.higher:
            backlog = len(higher.queue)
            if backlog:
                may_queue = False
                if backlog * 2 >= higher.max_queue:
                    return self._shed(state, f"lane {lane!r} is shed: higher-priority lane "
                                             f"{higher.name!r} has a backlog of {backlog}")
        if state.running < state.max_concurrency and not state.queue:
            state.running += 1
            return Ticket(lane, RUNNING, now, now, payload)
        if not may_queue:
            return self._shed(state, f"lane {lane!r} is saturated and yields to higher-priority lanes")
        if len(state.queue) >= state.max_queue:
            return Rejection(
                status=429, code="lane_saturated", error_type="rate_limit_error", outcome="throttled",
                message=f"lane {lane!r} is saturated ({state.running} running, {len(state.queue)} queued)",
                retry_after=state.retry_after_s, lane=lane,
            )
        ticket = Ticket(lane, QUEUED, now, now + state.queue_timeout_s, payload)
        state.queue.append(ticket)
        return ticket

    def release(self, ticket: Ticket, now: float) -> Ticket | None:
        """Free ``ticket``'s slot; return the queued ticket that starts in it, if any (now running)."""
        state = self._lanes[ticket.lane]
        if ticket.state != RUNNING:
            return None
        ticket.state = DONE
        state.running -= 1
        queue = state.queue
        while queue:
            waiting = queue.popleft()
            if waiting.deadline < now:
                waiting.state = EXPIRED
                self._expired.append(waiting)
                continue
            waiting.state = RUNNING
            state.running += 1
            return waiting
        return None

    def cancel(self, ticket: Ticket) -> None:
        """Withdraw a queued ticket (its waiter gave up); a running one must be released instead."""
        if ticket.state == QUEUED:
            self._lanes[ticket.lane].queue.remove(ticket)
            ticket.state = CANCELLED

    def expire(self, now: float) -> list[Ticket]:
        """Remove and return queued tickets whose deadline has passed (queue timeouts)."""
        expired, self._expired = self._expired, []
        for state in self._lanes.values():
            queue = state.queue
            while queue and queue[0].deadline < now:
                waiting = queue.popleft()
                waiting.state = EXPIRED
                expired.append(waiting)
        return expired

    def queue_timeout(self, ticket: Ticket) -> Rejection:
        """The answer for a ticket that waited past its lane's queue timeout."""
        state = self._lanes[ticket.lane]
        return Rejection(
            status=503, code="queue_timeout", error_type="server_error", outcome="throttled",
            message=f"lane {ticket.lane!r}: no capacity within {state.queue_timeout_s * 1000:.0f} ms",
            retry_after=state.retry_after_s, lane=ticket.lane,
        )

    def next_deadline(self) -> float | None:
        """The earliest queue deadline (for a virtual clock's next wake-up)."""
        heads = [s.queue[0].deadline for s in self._lanes.values() if s.queue]
        return min(heads) if heads else None

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """lane → (running, queued), for /metrics."""
        return {name: (s.running, len(s.queue)) for name, s in self._lanes.items()}

    @staticmethod
    def _shed(state: _LaneState, message: str) -> Rejection:
        return Rejection(
            status=503, code="lane_shed", error_type="server_error", outcome="throttled",
            message=message, retry_after=state.retry_after_s, lane=state.name,
        )
