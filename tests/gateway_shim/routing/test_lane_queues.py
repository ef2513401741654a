from __future__ import annotations

import random

from gateway_shim.config.models import Lane, Slo
from gateway_shim.routing.lane_queues import CANCELLED, EXPIRED, QUEUED, RUNNING, LaneGate, Ticket
from gateway_shim.types import Rejection

SLO = Slo(latency_ms=1000, availability=0.99)


def lane(priority: int, concurrency: int = 2, queue: int = 2, timeout_ms: float = 1000) -> Lane:
    return Lane(timeout_s=10, max_output_tokens=100, priority=priority, max_concurrency=concurrency,
                max_queue=queue, queue_timeout_ms=timeout_ms, slo=SLO)


def gate(**overrides: Lane) -> LaneGate:
    lanes = {"interactive": lane(0), "standard": lane(1), "batch": lane(2)}
    lanes.update(overrides)
    return LaneGate(lanes)


def ticket(result: Ticket | Rejection) -> Ticket:
    assert isinstance(result, Ticket), result
    return result


def test_runs_up_to_concurrency_then_queues_then_refuses_with_429() -> None:
    g = gate()
    states = [ticket(g.acquire("standard", 0.0)).state for _ in range(4)]
    assert states == [RUNNING, RUNNING, QUEUED, QUEUED]
    full = g.acquire("standard", 0.0)
    assert isinstance(full, Rejection)
    assert (full.status, full.code, full.outcome) == (429, "lane_saturated", "throttled")
    assert full.retry_after == 1.0
    assert g.snapshot()["standard"] == (2, 2)


def test_release_starts_the_oldest_queued_ticket() -> None:
    g = gate()
    first = ticket(g.acquire("batch", 0.0))
    ticket(g.acquire("batch", 0.0))
    waiting = ticket(g.acquire("batch", 0.1, payload="w"))
    started = g.release(first, 0.2)
    assert started is waiting and started.state == RUNNING and started.payload == "w"
    assert g.release(first, 0.3) is None  # releasing twice frees nothing
    assert g.snapshot()["batch"] == (2, 0)


def test_queue_timeouts_expire_and_are_never_started() -> None:
    g = gate()
    running = [ticket(g.acquire("interactive", 0.0)) for _ in range(2)]
    late = ticket(g.acquire("interactive", 0.0))
    assert late.deadline == 1.0
    assert g.next_deadline() == 1.0
    assert g.expire(0.5) == []
    assert g.expire(1.5) == [late] and late.state == EXPIRED
    assert g.release(running[0], 2.0) is None
    timeout = g.queue_timeout(late)
    assert (timeout.status, timeout.code, timeout.retry_after) == (503, "queue_timeout", 1.0)


def test_release_skips_expired_tickets_and_reports_them() -> None:
    g = gate()
    running = ticket(g.acquire("standard", 0.0))
    ticket(g.acquire("standard", 0.0))
    stale = ticket(g.acquire("standard", 0.0))
    fresh = ticket(g.acquire("standard", 1.0))
    assert g.release(running, 1.5) is fresh
    assert stale.state == EXPIRED and g.expire(1.5) == [stale]


def test_cancel_withdraws_a_queued_ticket() -> None:
    g = gate()
    running = [ticket(g.acquire("standard", 0.0)) for _ in range(2)]
    waiting = ticket(g.acquire("standard", 0.0))
    g.cancel(waiting)
    assert waiting.state == CANCELLED and g.release(running[0], 0.1) is None


def backlog(g: LaneGate, name: str, queued: int, concurrency: int = 2) -> None:
    for _ in range(concurrency + queued):
        ticket(g.acquire(name, 0.0))


def test_a_backlog_in_a_higher_lane_stops_lower_lanes_from_queueing() -> None:
    g = gate(interactive=lane(0, queue=4))
    backlog(g, "interactive", 1)
    assert ticket(g.acquire("batch", 0.0)).state == RUNNING  # a free slot still runs
    ticket(g.acquire("batch", 0.0))
    shed = g.acquire("batch", 0.0)
    assert isinstance(shed, Rejection) and (shed.status, shed.code) == (503, "lane_shed")


def test_batch_sheds_first_then_standard_and_interactive_is_protected() -> None:
    g = gate(standard=lane(1, queue=2), interactive=lane(0, queue=4))
    backlog(g, "standard", 1)  # standard half full: batch sheds everything
    shed = g.acquire("batch", 0.0)
    assert isinstance(shed, Rejection) and shed.code == "lane_shed"
    assert ticket(g.acquire("interactive", 0.0)).state == RUNNING
    backlog(g, "interactive", 2, concurrency=1)  # interactive half full: standard sheds too
    assert isinstance(g.acquire("standard", 0.0), Rejection)
    assert ticket(g.acquire("interactive", 0.0)).state == QUEUED  # interactive still queues
    assert ticket(g.acquire("interactive", 0.0)).state == QUEUED
    full = g.acquire("interactive", 0.0)
    assert isinstance(full, Rejection) and full.code == "lane_saturated"


def test_a_bounded_run_never_leaks_slots() -> None:
    """Random acquire/release traffic: running never exceeds concurrency and ends at zero."""
    rng = random.Random(7)
    g = gate()
    held: list[Ticket] = []
    for step in range(5000):
        now = step * 0.01
        for t in g.expire(now):
            assert t.state == EXPIRED
        if rng.random() < 0.55:
            got = g.acquire(rng.choice(["interactive", "standard", "batch"]), now)
            if isinstance(got, Ticket) and got.state == RUNNING:
                held.append(got)
        elif held:
            started = g.release(held.pop(rng.randrange(len(held))), now)
            if started is not None:
                held.append(started)
        for running, queued in g.snapshot().values():
            assert running <= 2 and queued <= 2
    while held:
        started = g.release(held.pop(), 100.0)
        if started is not None:
            held.append(started)
    assert all(running == 0 for running, _ in g.snapshot().values())
