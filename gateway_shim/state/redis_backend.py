"""Budgets, reservations and rate windows shared by every replica through one Redis.

Coalescing: the admissions and settlements issued during one event-loop tick go to Redis as ONE
call of ``batch.lua`` (atomic, one round trip) and its answers are fanned back to the awaiting
requests; while a call is in flight, new operations queue for the next one. A request's cost is
then a string, a future and its share of one call, instead of a whole client call each.

Redis unreachable (refused, reset, or no answer within ``timeout_s``): the backend switches to
degraded mode at once, with one log line, and decides locally (``local_share``: this replica's share of
what was left; ``refuse``: ``state_unavailable``). A probe pings every ``probe_s``; when Redis answers,
the backend reconciles, then switches back (another log line):
- settlements of leases Redis granted are replayed; ``batch.lua`` applies a settlement only while its
  reservation (held or lapsed) exists, so one whose earlier reply was lost is never counted twice;
- spend of leases granted locally is summed per tenant-month into a journal and sent as ``J`` records,
  each applied once under a marker (replica id + sequence number) set with SET NX, so a retried
  journal after another lost reply is not counted twice either.

Redis back EMPTY (restarted without persistence, flushed): seeding a month also writes the key
``<prefix>epoch``; every call carries the epoch this replica knows and ``batch.lua`` applies nothing
when Redis holds another one (no extra round trip: the check is in the tick's call). Missing, the data
is gone: the replica decides locally as when Redis is unreachable and has the month seeded again
from the lake through the same leader claim as at start-up (``reseed_from``'s reader; one replica
reads). Then every replica sends its last view of each tenant's spend (``F``: a floor, for spend the
lake does not have yet) and books the settlements of reservations granted before the loss as journal
records (their reservations went with the data). Found changed instead, another replica re-seeded
already: the replica adopts the new epoch and sends the same again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib.resources import files

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_shim.config.models import State, TenantLimits
from gateway_shim.policy.cost import month_key
from gateway_shim.state.base import Gauges
from gateway_shim.state.decisions import Decision, Lease, ReadMonthSpend, ReadSpend, Refusal, SeedOutcome
from gateway_shim.state.local import LocalDecider

log = logging.getLogger("aigw.state")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
MAX_BATCH = 512
"""Operations per call: bounds one script's run time on the server (each op is a few commands)."""
NANOS = 1e9
_RS, _US = "\x1e", "\x1f"
_REFUSALS: dict[bytes, Refusal] = {b"1": "requests_per_min", b"2": "tokens_per_min", b"3": "budget_exceeded"}
_ADMIT, _SETTLE = 0, 1
_SEED_POLL_S = 0.05
_RECONCILE_ROUNDS = 10
_CLOSE_ROUNDS = 10
SETTLE_DELAY_S = 0.01
"""A settlement nobody waits for (``settle_soon``) waits this long for an admission to share a call
with: at low traffic a request then costs one call, not two. Holding a reservation 10 ms longer only
errs towards refusing."""


def _script(name: str) -> str:
    return files("gateway_shim.state").joinpath(name).read_text()


class _Op:
    """One request's operation waiting for (or sent in) a batch."""

    __slots__ = ("future", "generation", "kind", "lease_id", "month", "record", "reservation_usd", "tenant",
                 "tokens")

    def __init__(self, record: str, kind: int, tenant: str, month: int, lease_id: str,
                 reservation_usd: float, tokens: int, generation: int = 0) -> None:
        self.record = record
        self.kind = kind
        self.tenant = tenant
        self.month = month
        self.lease_id = lease_id
        self.reservation_usd = reservation_usd
        self.tokens = tokens
        self.generation = generation
        """A settlement's: its lease's (see ``Lease.generation``)."""
        self.future: asyncio.Future[Decision | None] | None = None


class RedisState:
    """One replica's client of the shared state (its own connection pool)."""

    name = "redis"

    def __init__(self, settings: State, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits], *,
                 replica_id: str | None = None, coalesce: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if settings.url is None:
            raise ValueError("state.url is required for the redis backend")
        for tenant in budgets:
            if _RS in tenant or _US in tenant:
                raise ValueError(f"tenant id {tenant!r} contains a control character")
        self.replica_id = replica_id or secrets.token_hex(4)
        self._settings = settings
        self._prefix = settings.key_prefix
        self._lease_ms = str(round(settings.lease_s * 1000))
        self._client = Redis.from_url(
            settings.url, socket_timeout=settings.timeout_s, socket_connect_timeout=settings.timeout_s,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._batch = self._client.register_script(_script("batch.lua"))
        self._seed = self._client.register_script(_script("seed.lua"))
        self._coalesce = coalesce
        self._clock = clock
        self._outage: LocalDecider | None = None
        self._budgets: dict[str, float] = {}
        self._budget_nanos: dict[str, int] = {}
        self._limits: dict[str, TenantLimits] = {}
        self.set_policy(budgets, limits)
        self._committed: dict[tuple[str, int], float] = {}
        self._seq = 0
        self._queue: list[_Op] = []
        self._scheduled = False
        self._busy = False
        self._flush_task: asyncio.Task[None] | None = None
        self._settle_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._outage_started = 0.0
        self._probe_task: asyncio.Task[None] | None = None
        self._replay: list[_Op] = []
        self._journal: dict[tuple[str, int], int] = {}
        self._journal_records: list[str] = []
        self._periods = 0
        self._epoch = ""
        """The epoch of the data this replica talks to: "" before seeding (not checked), "?" when seeding
        did not tell it (adopted from the first call that finds one)."""
        self._spent_seen: dict[tuple[str, int], int] = {}
        self._floors: dict[tuple[str, int], int] = {}
        self._generation = 0
        """Resets seen: leases of an earlier generation were granted by data that is gone."""
        self._lost_month: int | None = None
        self._seeded_month: int | None = None
        self._reread: ReadMonthSpend | None = None
        self._reseed_timeout_s = 60.0
        self._restoring = False
        self.calls = 0
        self.ops = 0
        self.outages = 0
        self.resets = 0
        self.reseeds = 0
        self.degraded_decisions = 0

    # ---- the request path -------------------------------------------------------------------

    async def admit(self, tenant: str, month: int, tokens: int, reservation_usd: float) -> Decision:
        if self._outage is not None:
            return self._decide_locally(tenant, month, tokens, reservation_usd)
        limits = self._limits[tenant]
        self._seq += 1
        lease_id = f"{self.replica_id}.{self._seq:x}"
        record = (f"A{_US}{tenant}{_US}{month}{_US}{lease_id}{_US}{tokens}{_US}{limits.requests_per_min}"
                  f"{_US}{limits.tokens_per_min}{_US}{self._budget_nanos[tenant]}{_US}"
                  f"{round(reservation_usd * NANOS)}")
        decision = await self._submit(_Op(record, _ADMIT, tenant, month, lease_id, reservation_usd, tokens))
        assert decision is not None
        return decision

    async def settle(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        op = self._settlement(lease, actual_usd, tokens_delta)
        if op is not None:
            await self._submit(op)

    def settle_soon(self, lease: Lease, actual_usd: float, tokens_delta: int) -> None:
        """``settle`` without waiting for the answer: it joins the next call, at most ``SETTLE_DELAY_S``
        later (nobody awaits it, so a finishing request costs no future and no task)."""
        op = self._settlement(lease, actual_usd, tokens_delta)
        if op is not None:
            self._queue.append(op)
            if self._settle_timer is None and not self._scheduled and not self._busy:
                self._settle_timer = asyncio.get_running_loop().call_later(SETTLE_DELAY_S, self._settle_due)

    def _settle_due(self) -> None:
        self._settle_timer = None
        self._schedule(asyncio.get_running_loop())

    def _settlement(self, lease: Lease, actual_usd: float, tokens_delta: int) -> _Op | None:
        """The settlement to send to Redis, or ``None`` once booked locally or kept for the replay."""
        actual = round(actual_usd * NANOS)
        if not lease.shared:
            if self._outage is not None and self._outage.lease_id == lease.id:
                self._outage.settle(lease, actual_usd, tokens_delta)
            self._book(lease.tenant, lease.month, actual)
            return None
        if lease.generation != self._generation:
            self._book(lease.tenant, lease.month, actual)
            return None
        record = f"S{_US}{lease.tenant}{_US}{lease.month}{_US}{lease.id}{_US}{actual}{_US}{tokens_delta}"
        op = _Op(record, _SETTLE, lease.tenant, lease.month, lease.id, 0.0, 0, lease.generation)
        if self._outage is not None:
            self._replay.append(op)
            return None
        return op

    def _book(self, tenant: str, month: int, nanos: int) -> None:
        """Spend whose reservation Redis does not hold (granted locally, or before a reset): journaled."""
        key = (tenant, month)
        self._journal[key] = self._journal.get(key, 0) + nanos
        if self._outage is None:
            self._schedule(asyncio.get_running_loop())

    def _book_settlement(self, op: _Op) -> None:
        """A settlement Redis will not apply (its reservation went with the data) booked as journal."""
        _, tenant, month, _, actual, _ = op.record.split(_US)
        self._book(tenant, int(month), int(actual))
        if op.future is not None and not op.future.done():
            op.future.set_result(None)

    def _current(self, ops: list[_Op]) -> list[_Op]:
        """``ops`` but the settlements of leases granted before a reset (booked as journal instead)."""
        kept = []
        for op in ops:
            if op.kind == _SETTLE and op.generation != self._generation:
                self._book_settlement(op)
            else:
                kept.append(op)
        return kept

    def _submit(self, op: _Op) -> Awaitable[Decision | None]:
        loop = asyncio.get_running_loop()
        op.future = future = loop.create_future()
        if not self._coalesce:
            return self._call_alone(op)
        self._queue.append(op)
        self._schedule(loop)
        return future

    async def _call_alone(self, op: _Op) -> Decision | None:
        """One call per operation (``coalesce=False``; kept to measure what coalescing saves)."""
        await self._send([op])
        assert op.future is not None
        return op.future.result()

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Flush at the next tick, so every operation issued during this one joins the call."""
        if not self._scheduled and not self._busy:
            self._scheduled = True
            loop.call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if self._busy or self._closed:
            return
        if self._outage is not None:
            queued, self._queue = self._queue, []
            for op in queued:
                self._fall_back(op)
            return
        ops = self._queue[:MAX_BATCH]
        del self._queue[:MAX_BATCH]
        if not ops and not self._journal and not self._journal_records and not self._floors:
            return
        self._busy = True
        self._flush_task = asyncio.get_running_loop().create_task(self._flush(ops))

    async def _flush(self, ops: list[_Op]) -> None:
        try:
            await self._send(ops)
        finally:
            self._busy = False
            if self._queue or (self._outage is None and (self._journal or self._floors)):
                self._schedule(asyncio.get_running_loop())

    async def _send(self, ops: list[_Op], retries: int = 1) -> None:
        if self._generation:
            ops = self._current(ops)
        journal = self._take_journal()
        floors = dict(self._floors)
        records = [op.record for op in ops]
        records.extend(journal)
        records.extend(_floor_records(floors))
        if not records:
            return
        generation = self._generation
        try:
            reply = await self._batch(args=[self._prefix, self._lease_ms, _RS.join(records), self._epoch])
        except UNREACHABLE as exc:
            self._unreachable(exc)
            for op in ops:
                self._fall_back(op)
            return
        except Exception as exc:  # a script error is a bug: every waiting request must hear of it
            _fail(ops, exc)
            return
        self.calls += 1
        self.ops += len(records)
        if reply[:1] == b"!":
            await self._reset(reply[1:].decode(), ops, retries)
            return
        self._acknowledge(journal, floors)
        try:
            answers = reply.split(b"\x1e")
            if len(answers) != len(records):
                raise RuntimeError(f"batch.lua answered {len(answers)} records for {len(records)}")
            for op, answer in zip(ops, answers, strict=False):
                decision = self._read(op, answer, generation)
                future = op.future
                if future is None or not future.cancelled():
                    if future is not None and not future.done():
                        future.set_result(decision)
                elif decision is not None and decision.lease is not None:
                    self._release(decision.lease)
        except Exception as exc:
            _fail(ops, exc)

    async def _reset(self, found: str, ops: list[_Op], retries: int) -> None:
        """The call met another epoch and applied nothing: settlements go to the journal; admissions
        are sent again under the epoch found, or decided locally while the month is seeded again."""
        lost = self._note_reset(found)
        again = self._current(ops)
        if lost:
            self._degrade(f"shared state at {self._host()} lost its data (restarted without persistence, or "
                          "flushed)", "until the month is seeded again from the lake")
        elif retries > 0:
            await self._send(again, retries - 1)
            return
        for op in again:
            self._fall_back(op)

    def _note_reset(self, found: str) -> bool:
        """Remember what this replica saw before the reset (floors; which leases are older); adopt
        ``found`` if another replica re-seeded already. True when the data is gone (no epoch)."""
        if self._epoch == "?" or (found and found == self._epoch):  # not a reset seen by this replica:
            self._epoch = found                                     # its first epoch, or one a concurrent
            return False                                            # call adopted already
        if not found and self._lost_month is not None:              # a concurrent call found the loss
            return True
        self.resets += 1
        self._generation += 1
        for key, nanos in self._spent_seen.items():
            if nanos > self._floors.get(key, 0):
                self._floors[key] = nanos
        self._spent_seen.clear()
        if found:
            log.warning("shared state at %s was seeded again by another replica after losing its data "
                        "(epoch %s, was %s): this replica adopts it", self._host(), found, self._epoch)
            self._epoch = found
            return False
        self._lost_month = max(month_key(int(time.time() // 86400)), self._seeded_month or 0)
        return True

    def _host(self) -> object:
        return self._client.connection_pool.connection_kwargs.get("host")

    def _release(self, lease: Lease) -> None:
        """An admission whose caller went away (cancelled) while it was granted: settle it at 0."""
        record = f"S{_US}{lease.tenant}{_US}{lease.month}{_US}{lease.id}{_US}0{_US}0"
        op = _Op(record, _SETTLE, lease.tenant, lease.month, lease.id, 0.0, 0, lease.generation)
        op.future = asyncio.get_running_loop().create_future()
        self._queue.append(op)

    def _read(self, op: _Op, answer: bytes, generation: int) -> Decision | None:
        code, spent_n, reserved_n, retry_ms = answer.split(b"\x1f")
        key = (op.tenant, op.month)
        spent_nanos = int(spent_n)
        self._spent_seen[key] = spent_nanos
        spent = spent_nanos / NANOS
        reserved = int(reserved_n) / NANOS
        self._committed[key] = spent + reserved
        if op.kind == _SETTLE:
            return None
        if code == b"0":
            lease = Lease(op.tenant, op.month, op.lease_id, op.reservation_usd, True, generation)
            return Decision(lease, None, 0.0, spent, reserved, False)
        return Decision(None, _REFUSALS[code], int(retry_ms) / 1000, spent, reserved, False)

    # ---- Redis unreachable ------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> None:
        if self._outage is not None:
            return
        self.outages += 1
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        self._degrade(f"shared state at {self._host()} unreachable ({reason})", "until it answers")

    def _degrade(self, why: str, until: str) -> None:
        """Decide locally (or refuse) from now on, and start probing for the way back."""
        if self._outage is not None:
            return
        self._periods += 1
        self._outage_started = self._clock()
        self._restoring = self._lost_month is not None
        self._outage = LocalDecider(self._budgets, self._limits, share=self._settings.replicas,
                                    committed=self._committed, clock=self._clock,
                                    lease_id=f"local.{self.replica_id}.{self._periods}")
        mode = ("refusing admissions (503)" if self._settings.on_unavailable == "refuse" else
                f"deciding locally on 1/{self._settings.replicas} of what was left")
        log.warning("%s: %s %s", why, mode, until)
        if not self._closed:
            self._probe_task = asyncio.get_running_loop().create_task(self._probe())

    def _fall_back(self, op: _Op) -> None:
        """An operation whose call failed: decide it locally, or keep a settlement for replay."""
        if op.kind == _SETTLE:
            self._replay.append(op)
            result: Decision | None = None
        elif op.future is not None and op.future.cancelled():
            return  # nobody waits for it: hold nothing for it
        else:
            result = self._decide_locally(op.tenant, op.month, op.tokens, op.reservation_usd)
        if op.future is not None and not op.future.done():
            op.future.set_result(result)

    def _decide_locally(self, tenant: str, month: int, tokens: int, reservation_usd: float) -> Decision:
        self.degraded_decisions += 1
        outage = self._outage
        if outage is None or self._settings.on_unavailable == "refuse":
            return Decision(None, "state_unavailable", self._settings.probe_s, 0.0, 0.0, True)
        return outage.admit(tenant, month, tokens, reservation_usd)

    async def _probe(self) -> None:
        """While degraded, every ``probe_s`` (at once after a loss): when Redis answers, have the month
        seeded again if its data is gone, reconcile, and switch back."""
        wait = 0.0 if self._lost_month is not None else self._settings.probe_s
        while self._outage is not None:
            await asyncio.sleep(wait)
            wait = self._settings.probe_s
            try:
                if self._lost_month is None:
                    await self._client.ping()
                    if self._epoch == "?" and self._reread is not None:
                        await self._check_seeded()  # not seeded: Redis was down at start-up
                if self._lost_month is not None and not await self._reseed(self._lost_month):
                    continue
                if await self._reconcile():
                    return
            except UNREACHABLE:
                continue

    async def _check_seeded(self) -> None:
        """Seeding did not tell this replica the epoch: adopt the fleet's, or seed if there is none."""
        found = _text(await self._client.get(f"{self._prefix}epoch"))
        if found:
            self._epoch = found
        else:
            self._lost_month = max(month_key(int(time.time() // 86400)), self._seeded_month or 0)
            self._restoring = True

    async def _reseed(self, month: int) -> bool:
        """``month`` seeded again from the lake (read here if this replica claims it first) under a new
        epoch; False to try again at the next probe (the lake unreadable, the leader not done)."""
        read = self._reread
        assert read is not None  # an epoch is known only after seed_month, which sets a reader

        async def read_month() -> Mapping[str, float]:
            return await read(month)

        try:
            outcome = await self._claim_and_seed(month, read_month, self._reseed_timeout_s)
        except UNREACHABLE:
            raise
        except Exception as exc:  # the lake unreadable: keep deciding locally, try again
            log.warning("seeding %s again from the lake failed (%s): still degraded; next try in %.1f s",
                        _label(month), f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                        self._settings.probe_s)
            return False
        if not outcome.seeded:
            return False
        self._lost_month = None
        if outcome.leader:
            self.reseeds += 1
            log.warning("shared state re-seeded for %s from the lake for every replica: $%.2f over %d "
                        "tenants (epoch %s)", _label(month), sum(outcome.by_tenant.values()),
                        len(outcome.by_tenant), self._epoch)
        else:
            log.warning("shared state for %s seeded again by another replica (epoch %s)", _label(month),
                        self._epoch)
        return True

    async def _reconcile(self) -> bool:
        """Replay settlements, the journal and floors; back to shared decisions once nothing is left."""
        replayed = journaled = 0
        for _ in range(_RECONCILE_ROUNDS):
            replay: list[_Op] = []
            for op in self._replay:  # reservations granted before a reset are gone: spend to the journal
                if op.generation != self._generation:
                    self._book_settlement(op)
                else:
                    replay.append(op)
            self._replay = []
            journal = self._take_journal()
            floors = dict(self._floors)
            if not replay and not journal and not floors:
                seconds = self._clock() - self._outage_started
                self._outage = None
                log.warning("shared state %s after %.1f s: replayed %d settlements and %d journal records "
                            "of local spend; shared decisions resume",
                            "restored" if self._restoring else "reachable again", seconds, replayed,
                            journaled)
                return True
            records = [op.record for op in replay]
            records.extend(journal)
            records.extend(_floor_records(floors))
            try:
                reply = await self._batch(args=[self._prefix, self._lease_ms, _RS.join(records), self._epoch])
            except UNREACHABLE:
                self._replay[:0] = replay
                return False
            self.calls += 1
            self.ops += len(records)
            if reply[:1] == b"!":  # lost (or re-seeded) while it was away: nothing applied
                self._replay[:0] = replay
                if self._note_reset(reply[1:].decode()):
                    self._restoring = True
                    return False
                continue
            self._acknowledge(journal, floors)
            replayed += len(replay)
            journaled += len(journal)
            for op, answer in zip(replay, reply.split(b"\x1e"), strict=False):
                self._read(op, answer, self._generation)
        return False

    def _acknowledge(self, journal: list[str], floors: Mapping[tuple[str, int], int]) -> None:
        """Journal records and floors Redis has applied leave the pending ones (by value: calls may
        overlap)."""
        if journal:
            applied = set(journal)
            self._journal_records = [r for r in self._journal_records if r not in applied]
        for key, nanos in floors.items():
            if self._floors.get(key) == nanos:
                del self._floors[key]

    def _take_journal(self) -> list[str]:
        """Pending journal records: earlier unacknowledged ones (same markers) plus the spend since."""
        for (tenant, month), nanos in self._journal.items():
            self._seq += 1
            self._journal_records.append(
                f"J{_US}{self.replica_id}.j{self._seq:x}{_US}{tenant}{_US}{month}{_US}{nanos}")
        self._journal.clear()
        return list(self._journal_records)

    # ---- seeding, policy, metrics -----------------------------------------------------------

    async def seed_month(self, month: int, read: ReadSpend, timeout_s: float = 60.0) -> SeedOutcome:
        """The first replica to SET NX the month's marker reads and writes; the others wait for "done".

        The claim expires after ``timeout_s`` so a leader that dies is replaced; a leader whose claim
        lapsed before it wrote writes nothing (``seed.lua`` checks the claim is still its own).
        """
        self._seeded_month = month
        if self._reread is None:
            self._reread = lambda _month: read()
        self._epoch = "?"
        try:
            return await self._claim_and_seed(month, read, timeout_s)
        except UNREACHABLE as exc:
            self._unreachable(exc)
            by_tenant = dict(await read())
            self._remember_floor(month, by_tenant)
            return SeedOutcome(False, False, by_tenant, degraded=True)

    async def _claim_and_seed(self, month: int, read: ReadSpend, timeout_s: float) -> SeedOutcome:
        """``seed_month`` with Redis answering (raises when it does not); then this replica's epoch
        is the one the month was seeded under."""
        marker = f"{self._prefix}seed:{month}"
        token = f"{self.replica_id}.{secrets.token_hex(4)}"
        deadline = self._clock() + timeout_s
        for _ in range(int(timeout_s / _SEED_POLL_S) + 2):
            if await self._client.set(marker, token, nx=True, px=max(1, round(timeout_s * 1000))):
                by_tenant = dict(await read())
                self._remember_floor(month, by_tenant)
                records = _RS.join(f"{tenant}{_US}{round(by_tenant.get(tenant, 0.0) * NANOS)}"
                                   for tenant in self._budgets)
                written = await self._seed(args=[self._prefix, str(month), token, records,
                                                 secrets.token_hex(8)])
                if written:
                    await self._adopt_epoch()
                    for tenant in self._budgets:  # what it wrote is the least the month holds
                        self._spent_seen[(tenant, month)] = round(by_tenant.get(tenant, 0.0) * NANOS)
                return SeedOutcome(True, bool(written), by_tenant)
            if await self._client.get(marker) == b"done":
                await self._adopt_epoch()
                return SeedOutcome(False, True, {})
            if self._clock() >= deadline:
                break
            await asyncio.sleep(_SEED_POLL_S)
        return SeedOutcome(False, False, {})

    async def _adopt_epoch(self) -> None:
        """The epoch the month was seeded under (one is made if a Redis seeded by an earlier version
        of aigw has none)."""
        key = f"{self._prefix}epoch"
        await self._client.set(key, secrets.token_hex(8), nx=True)
        self._epoch = _text(await self._client.get(key))

    def reseed_from(self, read: ReadMonthSpend, timeout_s: float = 60.0) -> None:
        self._reread = read
        self._reseed_timeout_s = timeout_s

    def _remember_floor(self, month: int, by_tenant: Mapping[str, float]) -> None:
        """A month-to-date read is the least this replica knows was committed (for a local share)."""
        for tenant, spent in by_tenant.items():
            if tenant in self._budgets:
                key = (tenant, month)
                self._committed[key] = max(self._committed.get(key, 0.0), spent)

    def committed(self, tenant: str, month: int) -> float:
        if self._outage is not None:
            return self._outage.ledger.committed(tenant, month)
        return self._committed.get((tenant, month), 0.0)

    def set_policy(self, budgets: Mapping[str, float], limits: Mapping[str, TenantLimits]) -> None:
        self._budgets.update(budgets)
        self._budget_nanos.update({tenant: round(usd * NANOS) for tenant, usd in budgets.items()})
        self._limits.update(limits)
        if self._outage is not None:
            self._outage.set_policy(budgets, limits)

    @property
    def degraded(self) -> bool:
        return self._outage is not None

    def gauges(self) -> Gauges:
        return {
            "aigw_state_shared_up": [({}, 0.0 if self._outage is not None else 1.0)],
            "aigw_state_outages_total": [({}, float(self.outages))],
            "aigw_state_resets_total": [({}, float(self.resets))],
            "aigw_state_reseeds_total": [({}, float(self.reseeds))],
            "aigw_state_reseeding": [({}, 0.0 if self._lost_month is None else 1.0)],
            "aigw_state_degraded_decisions_total": [({}, float(self.degraded_decisions))],
            "aigw_state_calls_total": [({}, float(self.calls))],
            "aigw_state_ops_total": [({}, float(self.ops))],
        }

    async def close(self) -> None:
        """Stop probing, let the call in flight finish (bounded by the socket timeout), disconnect."""
        self._closed = True
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
        for _ in range(_CLOSE_ROUNDS):  # what is still queued is sent (or falls back), never dropped
            if self._flush_task is not None:
                with contextlib.suppress(Exception):
                    await self._flush_task
                self._flush_task = None
            if not self._queue:
                break
            queued, self._queue = self._queue, []
            await self._send(queued)
        await self._client.aclose()


def _floor_records(floors: Mapping[tuple[str, int], int]) -> list[str]:
    return [f"F{_US}{tenant}{_US}{month}{_US}{nanos}" for (tenant, month), nanos in floors.items()]


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _label(month: int) -> str:
    """A ``month_key`` as YYYY-MM."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _fail(ops: list[_Op], exc: Exception) -> None:
    log.error("shared-state call failed: %s", exc, exc_info=exc)
    for op in ops:
        if op.future is not None and not op.future.done():
            op.future.set_exception(exc)
