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
from gateway_shim.state.base import Gauges
from gateway_shim.state.decisions import Decision, Lease, ReadSpend, Refusal, SeedOutcome
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

    __slots__ = ("future", "kind", "lease_id", "month", "record", "reservation_usd", "tenant", "tokens")

    def __init__(self, record: str, kind: int, tenant: str, month: int, lease_id: str,
                 reservation_usd: float, tokens: int) -> None:
        self.record = record
        self.kind = kind
        self.tenant = tenant
        self.month = month
        self.lease_id = lease_id
        self.reservation_usd = reservation_usd
        self.tokens = tokens
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
        self.calls = 0
        self.ops = 0
        self.outages = 0
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
            key = (lease.tenant, lease.month)
            self._journal[key] = self._journal.get(key, 0) + actual
            if self._outage is None:
                self._schedule(asyncio.get_running_loop())
            return None
        record = f"S{_US}{lease.tenant}{_US}{lease.month}{_US}{lease.id}{_US}{actual}{_US}{tokens_delta}"
        op = _Op(record, _SETTLE, lease.tenant, lease.month, lease.id, 0.0, 0)
        if self._outage is not None:
            self._replay.append(op)
            return None
        return op

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
        if not ops and not self._journal and not self._journal_records:
            return
        self._busy = True
        self._flush_task = asyncio.get_running_loop().create_task(self._flush(ops))

    async def _flush(self, ops: list[_Op]) -> None:
        try:
            await self._send(ops)
        finally:
            self._busy = False
            if self._queue or (self._outage is None and self._journal):
                self._schedule(asyncio.get_running_loop())

    async def _send(self, ops: list[_Op]) -> None:
        journal = self._take_journal()
        records = [op.record for op in ops]
        records.extend(journal)
        try:
            reply = await self._batch(args=[self._prefix, self._lease_ms, _RS.join(records)])
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
        self._acknowledge(journal)
        try:
            answers = reply.split(b"\x1e")
            if len(answers) != len(records):
                raise RuntimeError(f"batch.lua answered {len(answers)} records for {len(records)}")
            for op, answer in zip(ops, answers, strict=False):
                decision = self._read(op, answer)
                future = op.future
                if future is None or not future.cancelled():
                    if future is not None and not future.done():
                        future.set_result(decision)
                elif decision is not None and decision.lease is not None:
                    self._release(decision.lease)
        except Exception as exc:
            _fail(ops, exc)

    def _release(self, lease: Lease) -> None:
        """An admission whose caller went away (cancelled) while it was granted: settle it at 0."""
        record = f"S{_US}{lease.tenant}{_US}{lease.month}{_US}{lease.id}{_US}0{_US}0"
        op = _Op(record, _SETTLE, lease.tenant, lease.month, lease.id, 0.0, 0)
        op.future = asyncio.get_running_loop().create_future()
        self._queue.append(op)

    def _read(self, op: _Op, answer: bytes) -> Decision | None:
        code, spent_n, reserved_n, retry_ms = answer.split(b"\x1f")
        spent = int(spent_n) / NANOS
        reserved = int(reserved_n) / NANOS
        self._committed[(op.tenant, op.month)] = spent + reserved
        if op.kind == _SETTLE:
            return None
        if code == b"0":
            lease = Lease(op.tenant, op.month, op.lease_id, op.reservation_usd, True)
            return Decision(lease, None, 0.0, spent, reserved, False)
        return Decision(None, _REFUSALS[code], int(retry_ms) / 1000, spent, reserved, False)

    # ---- Redis unreachable ------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> None:
        if self._outage is not None:
            return
        self.outages += 1
        self._outage_started = self._clock()
        self._outage = LocalDecider(self._budgets, self._limits, share=self._settings.replicas,
                                    committed=self._committed, clock=self._clock,
                                    lease_id=f"local.{self.replica_id}.{self.outages}")
        mode = ("refusing admissions (503)" if self._settings.on_unavailable == "refuse" else
                f"deciding locally on 1/{self._settings.replicas} of what was left")
        log.warning("shared state at %s unreachable (%s): %s until it answers",
                    self._client.connection_pool.connection_kwargs.get("host"),
                    f"{type(exc).__name__}: {exc}".splitlines()[0][:200], mode)
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
        """Ping every ``probe_s`` while unreachable; reconcile and switch back when Redis answers."""
        while self._outage is not None:
            await asyncio.sleep(self._settings.probe_s)
            try:
                await self._client.ping()
            except UNREACHABLE:
                continue
            if await self._reconcile():
                return

    async def _reconcile(self) -> bool:
        """Replay settlements and the journal; back to shared decisions once nothing is left to send."""
        replayed = journaled = 0
        for _ in range(_RECONCILE_ROUNDS):
            replay, self._replay = self._replay, []
            journal = self._take_journal()
            if not replay and not journal:
                seconds = self._clock() - self._outage_started
                self._outage = None
                log.warning("shared state reachable again after %.1f s: replayed %d settlements and %d "
                            "journal records of local spend; shared decisions resume",
                            seconds, replayed, journaled)
                return True
            records = [op.record for op in replay]
            records.extend(journal)
            try:
                reply = await self._batch(args=[self._prefix, self._lease_ms, _RS.join(records)])
            except UNREACHABLE:
                self._replay[:0] = replay
                return False
            self.calls += 1
            self.ops += len(records)
            self._acknowledge(journal)
            replayed += len(replay)
            journaled += len(journal)
            for op, answer in zip(replay, reply.split(b"\x1e"), strict=False):
                self._read(op, answer)
        return False

    def _acknowledge(self, journal: list[str]) -> None:
        """Journal records Redis has applied leave the pending list (by value: calls may overlap)."""
        if journal:
            applied = set(journal)
            self._journal_records = [r for r in self._journal_records if r not in applied]

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
        marker = f"{self._prefix}seed:{month}"
        token = f"{self.replica_id}.{secrets.token_hex(4)}"
        deadline = self._clock() + timeout_s
        try:
            for _ in range(int(timeout_s / _SEED_POLL_S) + 2):
                if await self._client.set(marker, token, nx=True, px=max(1, round(timeout_s * 1000))):
                    by_tenant = dict(await read())
                    self._remember_floor(month, by_tenant)
                    records = _RS.join(f"{tenant}{_US}{round(spent * NANOS)}"
                                       for tenant, spent in by_tenant.items()
                                       if spent and tenant in self._budgets)
                    written = await self._seed(args=[self._prefix, str(month), token, records])
                    return SeedOutcome(True, bool(written), by_tenant)
                if await self._client.get(marker) == b"done":
                    return SeedOutcome(False, True, {})
                if self._clock() >= deadline:
                    break
                await asyncio.sleep(_SEED_POLL_S)
        except UNREACHABLE as exc:
            self._unreachable(exc)
            by_tenant = dict(await read())
            self._remember_floor(month, by_tenant)
            return SeedOutcome(False, False, by_tenant, degraded=True)
        return SeedOutcome(False, False, {})

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


def _fail(ops: list[_Op], exc: Exception) -> None:
    log.error("shared-state call failed: %s", exc, exc_info=exc)
    for op in ops:
        if op.future is not None and not op.future.done():
            op.future.set_exception(exc)
