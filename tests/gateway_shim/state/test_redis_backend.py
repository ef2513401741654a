"""Redis backend behaviour beyond the shared bound: coalescing, leases, seeding, Redis going away."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis

from gateway_shim.state.decisions import Decision, Lease
from gateway_shim.state.redis_backend import SETTLE_DELAY_S, RedisState
from tests.gateway_shim.state.replicas import MONTH, TENANT, limits, month_field, redis_fleet, redis_settings
from tests.helpers import RedisServer


def test_one_tick_of_admissions_and_settlements_is_one_call(redis_server: RedisServer) -> None:
    async def run() -> tuple[int, int, int]:
        coalesced = RedisState(redis_settings(redis_server.url), {TENANT: 1e6}, limits())
        single = RedisState(redis_settings(redis_server.url), {TENANT: 1e6}, limits(), coalesce=False)
        try:
            decisions = await asyncio.gather(*(coalesced.admit(TENANT, MONTH, 10, 0.01) for _ in range(64)))
            admit_calls = coalesced.calls
            await asyncio.gather(*(coalesced.settle(d.lease, 0.005, 0) for d in decisions if d.lease))
            await asyncio.gather(*(single.admit(TENANT, MONTH, 10, 0.01) for _ in range(64)))
            return admit_calls, coalesced.calls - admit_calls, single.calls
        finally:
            await coalesced.close()
            await single.close()

    assert asyncio.run(run()) == (1, 1, 64)


def test_a_settlement_nobody_awaits_rides_with_the_next_admission_or_goes_alone_soon_after(
        redis_server: RedisServer) -> None:
    settings = redis_settings(redis_server.url)

    async def run() -> tuple[int, float, float, float, float]:
        state = RedisState(settings, {TENANT: 1e6}, limits())
        try:
            first = await state.admit(TENANT, MONTH, 10, 0.01)
            assert first.lease is not None
            before = state.calls
            state.settle_soon(first.lease, 0.004, 0)
            second = await state.admit(TENANT, MONTH, 10, 0.02)  # one call carries both
            shared_calls = state.calls - before
            spent, reserved = month_field(redis_server.url, settings.key_prefix, "s"), month_field(
                redis_server.url, settings.key_prefix, "r")
            assert second.lease is not None
            state.settle_soon(second.lease, 0.006, 0)  # alone: sent after SETTLE_DELAY_S
            await asyncio.sleep(SETTLE_DELAY_S + 0.2)
            return (shared_calls, spent, reserved, month_field(redis_server.url, settings.key_prefix, "s"),
                    month_field(redis_server.url, settings.key_prefix, "r"))
        finally:
            await state.close()

    calls, spent, reserved, spent_after, reserved_after = asyncio.run(run())
    assert calls == 1
    assert (spent, reserved) == pytest.approx((0.004, 0.02))
    assert (spent_after, reserved_after) == pytest.approx((0.010, 0.0))


def test_a_killed_replica_holds_its_reservations_only_until_the_lease_ends(redis_server: RedisServer) -> None:
    lease_s = 1.0

    async def run() -> tuple[Decision, Decision, float]:
        fleet = redis_fleet(2, 1.0, limits(), redis_server.url, lease_s=lease_s)
        doomed, survivor = fleet.replicas
        held = await doomed.admit(TENANT, MONTH, 10, 0.9)
        assert held.admitted
        await doomed.close()                   # gone without settling, as a killed process would be
        refused = await survivor.admit(TENANT, MONTH, 10, 0.5)
        deadline = time.monotonic() + 10 * lease_s
        while time.monotonic() < deadline:     # bounded: the lease frees it after ~1 s
            await asyncio.sleep(0.2)
            freed = await survivor.admit(TENANT, MONTH, 10, 0.5)
            if freed.admitted:
                break
        reserved_after = fleet.reserved()
        await survivor.close()
        return refused, freed, reserved_after

    refused, freed, reserved_after = asyncio.run(run())
    assert refused.refusal == "budget_exceeded" and refused.reserved_usd == pytest.approx(0.9)
    assert freed.admitted and freed.reserved_usd == pytest.approx(0.5)
    assert reserved_after == pytest.approx(0.5)


def test_a_settlement_after_its_lease_lapsed_books_its_spend_once(redis_server: RedisServer) -> None:
    async def run() -> tuple[float, float, float]:
        fleet = redis_fleet(1, 1.0, limits(), redis_server.url, lease_s=0.3)
        (replica,) = fleet.replicas
        try:
            held = await replica.admit(TENANT, MONTH, 10, 0.4)
            assert held.lease is not None
            await asyncio.sleep(0.5)
            await replica.admit(TENANT, MONTH, 10, 0.01)  # any call sweeps the lapsed lease
            lapsed_reserved = fleet.reserved()
            await replica.settle(held.lease, 0.25, 0)
            await replica.settle(held.lease, 0.25, 0)     # a replay (reply lost): not counted again
            return lapsed_reserved, fleet.spent(), fleet.reserved()
        finally:
            await fleet.close()

    lapsed_reserved, spent, reserved = asyncio.run(run())
    assert lapsed_reserved == pytest.approx(0.01)
    assert spent == pytest.approx(0.25)
    assert reserved == pytest.approx(0.01)


def test_three_replicas_racing_seed_the_month_once(redis_server: RedisServer) -> None:
    reads: list[str] = []

    def reader(name: str) -> object:
        async def read() -> Mapping[str, float]:
            reads.append(name)
            await asyncio.sleep(0.2)  # a lake read takes a while: the others must wait, not read too
            return {TENANT: 12.5, "not-configured": 3.0}
        return read

    async def run() -> tuple[list[object], float, object]:
        fleet = redis_fleet(3, 100.0, limits(), redis_server.url)
        try:
            outcomes = await asyncio.gather(*(r.seed_month(MONTH, reader(f"r{i}"), timeout_s=5.0)  # type: ignore[arg-type]
                                              for i, r in enumerate(fleet.replicas)))
            again = await fleet.replicas[0].seed_month(MONTH, reader("late"), timeout_s=5.0)  # type: ignore[arg-type]
            return list(outcomes), fleet.spent(), again
        finally:
            await fleet.close()

    outcomes, spent, again = asyncio.run(run())
    assert len(reads) == 1
    assert sorted(o.leader for o in outcomes) == [False, False, True]  # type: ignore[attr-defined]
    assert all(o.seeded for o in outcomes)  # type: ignore[attr-defined]
    assert spent == pytest.approx(12.5)
    assert not again.leader and again.seeded  # type: ignore[attr-defined]


def test_redis_killed_and_restarted_local_share_then_reconciled_without_double_counting(
        durable_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aigw.state")
    budget, cost = 3.0, 1 / 8

    async def run() -> dict[str, object]:
        fleet = redis_fleet(3, budget, limits(), durable_redis.url, replicas=3, probe_s=0.1, timeout_s=0.3)
        replicas: list[RedisState] = fleet.replicas  # type: ignore[assignment]
        try:
            for i in range(8):                          # 1.00 spent before the outage
                d = await replicas[i % 3].admit(TENANT, MONTH, 10, cost)
                assert d.lease is not None
                await replicas[i % 3].settle(d.lease, cost, 0)
            # 0.375 held, one lease each: the replicas last saw 1.125, 1.25 and 1.375 committed
            in_flight = [await r.admit(TENANT, MONTH, 10, cost) for r in replicas]
            durable_redis.kill()
            during: list[list[Decision]] = []
            for r in replicas:                          # each may use 1/3 of what it saw left
                during.append([await r.admit(TENANT, MONTH, 10, cost) for _ in range(7)])
            down = [r.degraded for r in replicas]
            for r, decisions in zip(replicas, during, strict=True):
                for d in decisions:
                    if d.lease is not None:
                        await r.settle(d.lease, cost, 0)
            for r, d in zip(replicas, in_flight, strict=True):   # granted by Redis, settled while away
                assert d.lease is not None
                await r.settle(d.lease, cost / 2, 0)
            durable_redis.start()
            deadline = time.monotonic() + 15
            while any(r.degraded for r in replicas) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            back = [not r.degraded for r in replicas]
            spent_after = fleet.spent()
            for r, d in zip(replicas, in_flight, strict=True):   # replaying a settlement again: no effect
                assert d.lease is not None
                await r.settle(d.lease, cost / 2, 0)
            after = await replicas[0].admit(TENANT, MONTH, 10, cost)
            return {"during": during, "down": down, "back": back, "spent": spent_after,
                    "spent_again": fleet.spent(), "reserved": fleet.reserved(), "after": after,
                    "outages": [r.outages for r in replicas],
                    "degraded_decisions": [r.degraded_decisions for r in replicas]}
        finally:
            await fleet.close()

    result = asyncio.run(run())
    during: list[list[Decision]] = result["during"]  # type: ignore[assignment]
    assert result["down"] == [True, True, True] and result["back"] == [True, True, True]
    # shares 1.875/3 = 0.625, 1.75/3 = 0.583, 1.625/3 = 0.542 → 5, 4, 4 requests of 0.125: together
    # 1.625, exactly what was truly left, because each view was older by the others' reservations only
    assert [sum(d.admitted for d in ds) for ds in during] == [5, 4, 4]
    assert all(d.degraded for ds in during for d in ds)
    assert {d.refusal for ds in during for d in ds if not d.admitted} == {"budget_exceeded"}
    expected = 1.0 + 13 * cost + 3 * cost / 2
    assert result["spent"] == pytest.approx(expected, abs=1e-9)
    assert result["spent_again"] == pytest.approx(expected, abs=1e-9)
    assert result["spent"] <= budget  # type: ignore[operator]
    after: Decision = result["after"]  # type: ignore[assignment]
    assert after.admitted and not after.degraded
    assert result["reserved"] == pytest.approx(cost, abs=1e-9)  # only `after`'s: the 3 released
    assert result["outages"] == [1, 1, 1]
    assert result["degraded_decisions"] == [7, 7, 7]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 3
    assert sum("reachable again" in m for m in messages) == 3


def test_a_journal_replayed_after_a_lost_reply_is_applied_once(redis_server: RedisServer) -> None:
    settings = redis_settings(redis_server.url)
    script = (Path(__file__).parents[3] / "gateway_shim/state/batch.lua").read_text()
    client = redis.Redis.from_url(redis_server.url)
    try:
        batch = client.register_script(script)
        record = f"J\x1fr9.j1\x1f{TENANT}\x1f{MONTH}\x1f250000000"
        first = batch(args=[settings.key_prefix, "600000", record])
        second = batch(args=[settings.key_prefix, "600000", record])
    finally:
        client.close()
    assert first.split(b"\x1f")[0] == b"0" and second.split(b"\x1f")[0] == b"4"
    assert month_field(redis_server.url, settings.key_prefix, "s") == pytest.approx(0.25)


def test_refuse_mode_answers_state_unavailable_and_replays_settlements(durable_redis: RedisServer) -> None:
    async def run() -> tuple[Decision, Decision, float, float]:
        fleet = redis_fleet(1, 1.0, limits(), durable_redis.url, on_unavailable="refuse", probe_s=0.1,
                            timeout_s=0.3)
        (replica,) = fleet.replicas
        try:
            held = await replica.admit(TENANT, MONTH, 10, 0.2)
            assert isinstance(held.lease, Lease)
            durable_redis.kill()
            refused = await replica.admit(TENANT, MONTH, 10, 0.2)
            await replica.settle(held.lease, 0.15, 0)
            durable_redis.start()
            deadline = time.monotonic() + 15
            while replica.degraded and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            admitted = await replica.admit(TENANT, MONTH, 10, 0.2)
            return refused, admitted, fleet.spent(), fleet.reserved()
        finally:
            await fleet.close()

    refused, admitted, spent, reserved = asyncio.run(run())
    assert refused.refusal == "state_unavailable" and refused.degraded and refused.retry_after_s > 0
    assert admitted.admitted and not admitted.degraded
    assert spent == pytest.approx(0.15)
    assert reserved == pytest.approx(0.2)


def test_a_frozen_redis_times_out_into_local_decisions_and_an_answer_lost_on_the_way_is_not_counted_twice(
        durable_redis: RedisServer) -> None:
    """SIGSTOP: calls hang, then time out; the server runs them when it resumes, after the replica
    already decided locally (so the admission is held until its lease, the settlement not re-applied)."""
    assert durable_redis.process is not None
    pid = durable_redis.process.pid

    async def run() -> tuple[Decision, Decision, bool, float, float, float]:
        fleet = redis_fleet(1, 1.0, limits(), durable_redis.url, probe_s=0.1, timeout_s=0.2, lease_s=1.5)
        (replica,) = fleet.replicas
        try:
            held = await replica.admit(TENANT, MONTH, 10, 0.25)
            assert held.lease is not None
            os.kill(pid, signal.SIGSTOP)
            try:
                settle = asyncio.ensure_future(replica.settle(held.lease, 0.2, 0))
                lost = await replica.admit(TENANT, MONTH, 10, 0.1)     # sent in the same call, times out
                await settle
                down = replica.degraded
            finally:
                os.kill(pid, signal.SIGCONT)
            deadline = time.monotonic() + 15
            while replica.degraded and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            spent, reserved = fleet.spent(), fleet.reserved()
            await asyncio.sleep(1.6)                                  # the lost admission's lease ends
            later = await replica.admit(TENANT, MONTH, 10, 0.1)
            return lost, later, down, spent, reserved, fleet.reserved()
        finally:
            await fleet.close()

    lost, later, down, spent, reserved, reserved_later = asyncio.run(run())
    assert down and lost.degraded and lost.admitted
    assert not later.degraded and later.admitted
    assert spent == pytest.approx(0.2)             # the settlement ran once, though replayed
    assert reserved == pytest.approx(0.1)          # the admission the server ran after the timeout
    assert reserved_later == pytest.approx(0.1)    # ... released by its lease; only `later` is held


def test_an_admission_whose_caller_went_away_releases_its_reservation(redis_server: RedisServer) -> None:
    async def run() -> tuple[bool, float, float]:
        fleet = redis_fleet(1, 1.0, limits(), redis_server.url)
        (replica,) = fleet.replicas
        try:
            gone = asyncio.ensure_future(replica.admit(TENANT, MONTH, 10, 0.4))
            await asyncio.sleep(0)              # queued for this tick's call, then the client hangs up
            gone.cancel()
            kept = await replica.admit(TENANT, MONTH, 10, 0.3)
            await replica.admit(TENANT, MONTH, 10, 0.0)  # the release rides along with a later call
            return kept.admitted, kept.reserved_usd, fleet.reserved()
        finally:
            await fleet.close()

    admitted, reserved_seen, reserved_after = asyncio.run(run())
    assert admitted and reserved_seen == pytest.approx(0.7)
    assert reserved_after == pytest.approx(0.3)


def test_with_redis_down_each_replica_grants_its_share_of_the_rate_and_seeds_locally(
        durable_redis: RedisServer) -> None:
    async def read() -> Mapping[str, float]:
        return {TENANT: 40.0}

    async def run() -> tuple[list[int], list[object]]:
        fleet = redis_fleet(3, 100.0, limits(requests_per_min=30), durable_redis.url, replicas=3,
                            timeout_s=0.3, probe_s=5.0)
        try:
            durable_redis.kill()
            outcomes = [await r.seed_month(MONTH, read, timeout_s=2.0) for r in fleet.replicas]
            admitted = []
            for r in fleet.replicas:
                decisions = [await r.admit(TENANT, MONTH, 10, 0.01) for _ in range(15)]
                assert all(d.degraded for d in decisions)
                admitted.append(sum(d.admitted for d in decisions))
            return admitted, outcomes
        finally:
            await fleet.close()

    admitted, outcomes = asyncio.run(run())
    assert admitted == [10, 10, 10]
    assert all(o.degraded and not o.seeded and o.by_tenant == {TENANT: 40.0}  # type: ignore[attr-defined]
               for o in outcomes)



class Lake:
    """What a month-to-date read of the lake answers; counts who read it."""

    def __init__(self, spent: float) -> None:
        self.spent = spent
        self.reads = 0

    async def read(self, month: int) -> Mapping[str, float]:
        assert month == MONTH
        self.reads += 1
        await asyncio.sleep(0.1)  # a lake read takes a while: others must wait for it, not read too
        return {TENANT: self.spent}


async def _seeded(fleet_replicas: list[RedisState], at_start: float, again: Lake) -> None:
    async def read() -> Mapping[str, float]:
        return {TENANT: at_start}

    for replica in fleet_replicas:
        await replica.seed_month(MONTH, read, timeout_s=5.0)
        replica.reseed_from(again.read, timeout_s=5.0)


async def _until_shared(replicas: list[RedisState], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(r.degraded for r in replicas) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return not any(r.degraded for r in replicas)


def test_a_flushed_redis_is_seeded_again_once_and_the_spend_from_before_still_counts(
        volatile_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """The lake lags (1.25 of the 2.00 spent): the replicas' last views restore the rest."""
    caplog.set_level(logging.WARNING, logger="aigw.state")
    budget, cost = 3.0, 1 / 8
    lake = Lake(1.25)

    async def run() -> dict[str, object]:
        fleet = redis_fleet(3, budget, limits(), volatile_redis.url, replicas=3, probe_s=0.1)
        replicas: list[RedisState] = fleet.replicas  # type: ignore[assignment]
        try:
            await _seeded(replicas, 1.0, lake)
            for i in range(8):                        # 1.00 more: 2.00 spent
                d = await replicas[i % 3].admit(TENANT, MONTH, 10, cost)
                assert d.lease is not None
                await replicas[i % 3].settle(d.lease, cost, 0)
            in_flight = await replicas[2].admit(TENANT, MONTH, 10, cost)
            assert in_flight.lease is not None
            client = redis.Redis.from_url(volatile_redis.url)
            client.flushall()
            client.close()
            noticed = await replicas[0].admit(TENANT, MONTH, 10, cost)   # finds the epoch gone
            reseeding = replicas[0].gauges()["aigw_state_reseeding"][0][1]
            restored = await _until_shared(replicas)
            assert noticed.lease is not None
            await replicas[0].settle(noticed.lease, cost, 0)             # booked locally: journal
            await replicas[2].settle(in_flight.lease, 0.1, 0)            # its reservation was flushed
            after = await replicas[1].admit(TENANT, MONTH, 10, cost)     # adopts the new epoch
            assert after.lease is not None
            await replicas[1].settle(after.lease, cost, 0)
            spent_then = fleet.spent()
            admitted = 0
            for i in range(20):                       # bounded: the budget refuses long before
                d = await replicas[i % 3].admit(TENANT, MONTH, 10, cost)
                if d.lease is None:
                    break
                admitted += 1
                await replicas[i % 3].settle(d.lease, cost, 0)
            return {"noticed": noticed, "reseeding": reseeding, "restored": restored,
                    "spent_then": spent_then, "admitted": admitted, "last": d, "spent": fleet.spent(),
                    "reserved": fleet.reserved(), "resets": [r.resets for r in replicas],
                    "reseeds": [r.reseeds for r in replicas]}
        finally:
            await fleet.close()

    result = asyncio.run(run())
    noticed: Decision = result["noticed"]  # type: ignore[assignment]
    assert noticed.degraded and result["reseeding"] == 1.0 and result["restored"]
    assert lake.reads == 1 and result["reseeds"] == [1, 0, 0]
    assert result["resets"] == [1, 1, 1]
    # max(lake 1.25, last views 2.00) + 0.125 decided locally + 0.10 of the flushed reservation + 0.125
    assert result["spent_then"] == pytest.approx(2.0 + cost + 0.1 + cost, abs=1e-9)
    last: Decision = result["last"]  # type: ignore[assignment]
    assert result["admitted"] == 5 and last.refusal == "budget_exceeded"
    assert result["spent"] == pytest.approx(2.35 + 5 * cost, abs=1e-9)
    assert result["spent"] <= budget  # type: ignore[operator]
    assert result["reserved"] == 0.0
    messages = [r.getMessage() for r in caplog.records]
    assert sum("lost its data" in m for m in messages) == 1
    assert sum("re-seeded for" in m for m in messages) == 1
    assert sum("adopts it" in m for m in messages) == 2


def test_a_redis_restarted_without_persistence_is_seeded_again_by_one_replica(
        volatile_redis: RedisServer) -> None:
    """Killed, then back empty: the replicas decide locally meanwhile, one reads the lake (which knows
    more than they saw: 2.00 against 1.50), their local spend is added once."""
    budget, cost = 3.0, 1 / 8
    lake = Lake(2.0)

    async def run() -> dict[str, object]:
        fleet = redis_fleet(2, budget, limits(), volatile_redis.url, replicas=2, probe_s=0.1, timeout_s=0.3)
        replicas: list[RedisState] = fleet.replicas  # type: ignore[assignment]
        try:
            await _seeded(replicas, 1.0, lake)
            for i in range(4):                        # 1.50 spent
                d = await replicas[i % 2].admit(TENANT, MONTH, 10, cost)
                assert d.lease is not None
                await replicas[i % 2].settle(d.lease, cost, 0)
            volatile_redis.kill()
            during = [await r.admit(TENANT, MONTH, 10, cost) for r in replicas]
            for r, d in zip(replicas, during, strict=True):
                assert d.lease is not None and d.degraded
                await r.settle(d.lease, cost, 0)
            volatile_redis.start()                    # empty
            restored = await _until_shared(replicas)
            spent_back = fleet.spent()
            admitted = 0
            for i in range(20):
                d = await replicas[i % 2].admit(TENANT, MONTH, 10, cost)
                if d.lease is None:
                    break
                admitted += 1
                await replicas[i % 2].settle(d.lease, cost, 0)
            return {"restored": restored, "spent_back": spent_back, "admitted": admitted, "last": d,
                    "spent": fleet.spent(), "outages": [r.outages for r in replicas],
                    "resets": [r.resets for r in replicas], "reseeds": sorted(r.reseeds for r in replicas)}
        finally:
            await fleet.close()

    result = asyncio.run(run())
    assert result["restored"] and lake.reads == 1 and result["reseeds"] == [0, 1]
    assert result["outages"] == [1, 1] and result["resets"] == [1, 1]
    assert result["spent_back"] == pytest.approx(2.0 + 2 * cost, abs=1e-9)
    last: Decision = result["last"]  # type: ignore[assignment]
    assert result["admitted"] == 6 and last.refusal == "budget_exceeded"
    assert result["spent"] == pytest.approx(3.0, abs=1e-9)


def test_replicas_started_with_redis_down_seed_it_once_when_it_answers_empty(
        volatile_redis: RedisServer) -> None:
    budget, cost = 3.0, 1 / 8
    lake = Lake(1.0)

    async def run() -> dict[str, object]:
        fleet = redis_fleet(2, budget, limits(), volatile_redis.url, replicas=2, probe_s=0.1, timeout_s=0.3)
        replicas: list[RedisState] = fleet.replicas  # type: ignore[assignment]
        try:
            volatile_redis.kill()
            await _seeded(replicas, 1.0, lake)        # each reads at start, on its own (Redis is down)
            for r in replicas:
                d = await r.admit(TENANT, MONTH, 10, cost)
                assert d.lease is not None and d.degraded
                await r.settle(d.lease, cost, 0)
            volatile_redis.start()
            restored = await _until_shared(replicas)
            after = await replicas[0].admit(TENANT, MONTH, 10, cost)
            return {"restored": restored, "spent": fleet.spent(), "after": after,
                    "reseeds": sorted(r.reseeds for r in replicas)}
        finally:
            await fleet.close()

    result = asyncio.run(run())
    assert result["restored"] and lake.reads == 1 and result["reseeds"] == [0, 1]
    assert result["spent"] == pytest.approx(1.0 + 2 * cost, abs=1e-9)  # the lake, then the local spend
    after: Decision = result["after"]  # type: ignore[assignment]
    assert after.admitted and not after.degraded


def test_refuse_mode_answers_state_unavailable_until_the_month_is_seeded_again(
        volatile_redis: RedisServer) -> None:
    lake = Lake(0.0)

    async def run() -> tuple[Decision, bool, Decision, float]:
        fleet = redis_fleet(1, 1.0, limits(), volatile_redis.url, on_unavailable="refuse", probe_s=0.1)
        (replica,) = fleet.replicas
        try:
            await _seeded([replica], 0.5, lake)  # type: ignore[list-item]
            client = redis.Redis.from_url(volatile_redis.url)
            client.flushall()
            client.close()
            refused = await replica.admit(TENANT, MONTH, 10, 0.3)
            restored = await _until_shared([replica])  # type: ignore[list-item]
            admitted = await replica.admit(TENANT, MONTH, 10, 0.3)
            return refused, restored, admitted, fleet.spent()
        finally:
            await fleet.close()

    refused, restored, admitted, spent = asyncio.run(run())
    assert refused.refusal == "state_unavailable" and refused.degraded
    assert restored and admitted.admitted and not admitted.degraded
    assert spent == pytest.approx(0.5)  # the lake says 0: the replica's last view (the seed) counts
    assert admitted.spent_usd == pytest.approx(0.5) and lake.reads == 1
