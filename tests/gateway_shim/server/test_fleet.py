"""Three real `aigw serve` replicas with `state.backend: redis`: budgets and rate limits hold for the fleet.

Each replica has its own port and spool; they share a private redis-server and one lake folder.
The guarantee under test is docs/policy.md, "Limits across replicas".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from tests.gateway_shim.server.fleet import Fleet, start_fleet
from tests.gateway_shim.server.stack import Answer, ProviderProcess
from tests.helpers import RedisServer

TINY_BUDGET_USD = 2.0
HOLDER_BUDGET_USD = 0.5
LEASE_S = 9.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, provider: ProviderProcess,
          redis_server: RedisServer) -> Iterator[Fleet]:
    running = start_fleet(tmp_path_factory.mktemp("fleet"), provider, redis_server)
    try:
        yield running
    finally:
        running.stop()


def _wait_for(condition: object, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(step)
    return False


def _code(answer: Answer | None) -> str:
    return str(answer.json()["error"]["code"]) if answer is not None and answer.status >= 400 else ""


def test_three_hundred_concurrent_requests_never_spend_past_a_tight_budget(fleet: Fleet) -> None:
    with ThreadPoolExecutor(max_workers=300) as pool:
        answers = list(pool.map(lambda i: fleet.chat(i, "test-tiny", f"question {i}"), range(300)))
    assert all(a is not None for a in answers)
    statuses = [a.status for a in answers if a is not None]
    ok = [a for a in answers if a is not None and a.status == 200]
    refused = [a for a in answers if a is not None and a.status == 429]
    assert len(ok) + len(refused) == 300, sorted(set(statuses))
    assert {_code(a) for a in refused} == {"budget_exceeded"}
    assert 10 <= len(ok) < 300
    # What the admitted requests cost (x-aigw-cost-usd) is what Redis booked, and within the budget.
    charged = sum(float(a.headers["x-aigw-cost-usd"]) for a in ok)
    assert _wait_for(lambda: fleet.month("tiny")[1] == 0.0, 5), fleet.month("tiny")
    spent, _ = fleet.month("tiny")
    assert spent == pytest.approx(charged, abs=1e-6)
    assert 0 < spent <= TINY_BUDGET_USD
    # Several replicas spent from the one budget (which of them won the race depends on scheduling).
    served_by = {i % 3 for i, a in enumerate(answers) if a is not None and a.status == 200}
    assert len(served_by) >= 2, served_by


def test_thirty_requests_a_minute_admits_exactly_thirty_across_the_replicas(fleet: Fleet) -> None:
    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(lambda i: fleet.chat(i, "test-limited"), range(60)))
    ok = [a for a in answers if a is not None and a.status == 200]
    limited = [a for a in answers if a is not None and a.status == 429]
    assert (len(ok), len(limited)) == (30, 30)
    assert {_code(a) for a in limited} == {"rate_limited"}
    assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in limited)
    again = [fleet.chat(i, "test-limited") for i in range(3)]
    assert [a.status for a in again if a is not None] == [429, 429, 429]


def test_a_replica_killed_holding_reservations_frees_them_when_the_lease_ends(
        fleet: Fleet, provider: ProviderProcess) -> None:
    victim = fleet.replicas[2]
    provider.fault(model="hold-model", added_latency_ms=6000)
    try:
        with ThreadPoolExecutor(max_workers=7) as pool:
            held = [pool.submit(fleet.chat, 2, "test-holder", "hold", 20, **{"x-aigw-workflow": "hold-test"})
                    for _ in range(7)]
            assert _wait_for(lambda: fleet.month("holder")[1] > 0.4, 5), fleet.month("holder")
            admitted_at = time.monotonic()
            victim.process.kill()
            victim.process.wait(10)
            assert all(f.result() is None for f in held), "the killed replica answered nobody"
    finally:
        provider.clear_faults()
    spent, reserved = fleet.month("holder")
    assert spent == 0.0 and reserved > 0.4
    blocked = fleet.chat(0, "test-holder")
    assert blocked is not None and (blocked.status, _code(blocked)) == (429, "budget_exceeded")
    assert "in flight" in blocked.json()["error"]["message"]
    answer: list[Answer | None] = []
    assert _wait_for(lambda: (answer.append(fleet.chat(len(answer), "test-holder")) or
                              (answer[-1] is not None and answer[-1].status == 200)), LEASE_S + 5, 0.5)
    freed_after = time.monotonic() - admitted_at
    assert LEASE_S - 1.5 <= freed_after <= LEASE_S + 5
    assert _wait_for(lambda: fleet.month("holder")[1] == 0.0, 5)
    spent, _ = fleet.month("holder")
    final = answer[-1]
    assert final is not None and spent == pytest.approx(float(final.headers["x-aigw-cost-usd"]), abs=1e-6)



def test_redis_down_local_share_keeps_serving_marks_the_events_and_reconciles_once(
        tmp_path: Path, provider: ProviderProcess, durable_redis: RedisServer) -> None:
    fleet = start_fleet(tmp_path, provider, durable_redis, on_unavailable="local_share")
    try:
        before = [fleet.chat(i, "demo-acme", "before") for i in range(6)]
        durable_redis.kill()
        during = [fleet.chat(i, "demo-acme", "during") for i in range(6)]
        assert all(fleet.metric(i, "aigw_state_shared_up") == 0.0 for i in range(3))
        durable_redis.start()
        assert _wait_for(lambda: all(fleet.metric(i, "aigw_state_shared_up") == 1.0 for i in range(3)), 5)
        after = [fleet.chat(i, "demo-acme", "after") for i in range(6)]
        answers = [*before, *during, *after]
        assert [a.status for a in answers if a is not None] == [200] * 18
        charged = sum(float(a.headers["x-aigw-cost-usd"]) for a in answers if a is not None)
        assert _wait_for(lambda: fleet.month("acme") == pytest.approx((charged, 0.0), abs=1e-6), 5), (
            fleet.month("acme"), charged)
        assert sum(fleet.metric(i, "aigw_state_degraded_decisions_total") or 0 for i in range(3)) == 6
    finally:
        assert fleet.stop() == [0, 0, 0]
    events = {e["trace_id"]: e for e in fleet.events()}
    degraded = {a.headers["x-aigw-trace-id"]: a in during for a in answers if a is not None}
    assert {trace: events[trace]["state_degraded"] for trace in degraded} == degraded


def test_redis_down_refuse_answers_503_until_it_returns(
        tmp_path: Path, provider: ProviderProcess, durable_redis: RedisServer) -> None:
    fleet = start_fleet(tmp_path, provider, durable_redis, replicas=2, on_unavailable="refuse")
    try:
        assert [a.status for a in (fleet.chat(i, "demo-acme") for i in range(2)) if a] == [200, 200]
        durable_redis.kill()
        during = [fleet.chat(i, "demo-acme") for i in range(4)]
        assert [(a.status, _code(a)) for a in during if a] == [(503, "state_unavailable")] * 4
        assert all(int(a.headers["retry-after"]) >= 1 for a in during if a)
        durable_redis.start()
        assert _wait_for(lambda: all(fleet.metric(i, "aigw_state_shared_up") == 1.0 for i in range(2)), 5)
        assert [a.status for a in (fleet.chat(i, "demo-acme") for i in range(2)) if a] == [200, 200]
    finally:
        assert fleet.stop() == [0, 0]
    refused = [e for e in fleet.events() if e["status_code"] == 503]
    assert len(refused) == 4
    assert all(e["state_degraded"] and e["error_type"] == "state_unavailable" for e in refused)


def test_the_months_spend_is_seeded_into_redis_once_for_the_whole_fleet(
        tmp_path: Path, provider: ProviderProcess, redis_server: RedisServer) -> None:
    first = start_fleet(tmp_path, provider, redis_server)
    try:
        answers = [first.chat(i, "demo-acme", f"earlier {i}") for i in range(6)]
    finally:
        assert first.stop() == [0, 0, 0]
    earlier = sum(float(a.headers["x-aigw-cost-usd"]) for a in answers if a is not None and a.status == 200)
    assert earlier > 0 and len(first.events()) == 6
    second = start_fleet(tmp_path, provider, redis_server)  # same lake, a fresh key prefix: a new Redis
    try:
        assert second.month("acme") == pytest.approx((earlier, 0.0), abs=1e-6), "seeded once, not thrice"
        lines = [line for replica in second.replicas for line in replica.log.read_text().splitlines()
                 if line.startswith("aigw serve: budgets")]
        assert len(lines) == 3
        assert sum("written to the shared state for every replica" in line for line in lines) == 1
        assert sum("already seeded in the shared state" in line for line in lines) == 2
        assert all(second.metric(i, "aigw_budget_seed_ok") == 1.0 for i in range(3))
    finally:
        assert second.stop() == [0, 0, 0]



def _flushall(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        assert client.flushall()
    finally:
        client.close()


def test_a_redis_that_comes_back_empty_is_reseeded_once_and_the_budget_still_holds(
        tmp_path: Path, provider: ProviderProcess, volatile_redis: RedisServer) -> None:
    """FLUSHALL mid-run: the month's spend from before it still counts against the budget."""
    fleet = start_fleet(tmp_path, provider, volatile_redis)
    try:
        before: list[Answer] = []
        for i in range(60):                      # spend past half the budget, across the replicas
            answer = fleet.chat(i, "test-tiny", f"before {i}")
            assert answer is not None and answer.status == 200, answer
            before.append(answer)
            if fleet.month("tiny")[0] >= TINY_BUDGET_USD * 0.6:
                break
        spent_before = sum(float(a.headers["x-aigw-cost-usd"]) for a in before)
        assert _wait_for(lambda: fleet.month("tiny") == pytest.approx((spent_before, 0.0), abs=1e-6), 5)
        _flushall(volatile_redis)
        after: list[Answer] = []
        for i in range(60):                      # bounded: the budget refuses long before
            answer = fleet.chat(i, "test-tiny", f"after {i}")
            assert answer is not None
            after.append(answer)
            if answer.status == 429:
                break
        assert after[-1].status == 429 and _code(after[-1]) == "budget_exceeded"
        spent_after = sum(float(a.headers["x-aigw-cost-usd"]) for a in after if a.status == 200)
        assert spent_before + spent_after <= TINY_BUDGET_USD
        assert _wait_for(lambda: fleet.month("tiny")[1] == 0.0, 5), fleet.month("tiny")
        assert fleet.month("tiny")[0] >= spent_before + spent_after - 1e-6  # pre-flush spend counts in Redis
        noticed = [fleet.metric(i, "aigw_state_resets_total") for i in range(3)]
        assert all(n is not None and n >= 1 for n in noticed), noticed
        assert all(fleet.metric(i, "aigw_state_shared_up") == 1.0 for i in range(3))
    finally:
        assert fleet.stop() == [0, 0, 0]
    lines = [line for replica in fleet.replicas for line in replica.log.read_text().splitlines()
             if "re-seeded" in line]
    assert len(lines) == 1, lines                # one replica read the lake again, for the fleet
    events = {e["trace_id"]: e for e in fleet.events()}
    degraded = [events[a.headers["x-aigw-trace-id"]]["state_degraded"] for a in after]
    assert any(degraded) and not any(events[a.headers["x-aigw-trace-id"]]["state_degraded"] for a in before)
