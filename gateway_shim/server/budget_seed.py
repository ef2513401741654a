"""Start-up: seed the budget ledger with the month-to-date spend read from the lake (docs/gateway.md).

The read is retried for at most ``timeout_s``; a lake still unreadable then must not keep the
gateway down, so it starts seeded from this replica's own spool only, with a loud warning and
``aigw_budget_seed_ok 0`` in ``/metrics``. A bad file (truncated, not Parquet, not event schema v1)
is not a reason to retry: it is skipped, named in the log and in
``aigw_budget_seed_skipped_files``, and copied to the lake's ``quarantine/`` with its reason, and the
other files still seed the budgets. With a shared store (``state.backend: redis``) only the first
replica to claim the month reads and writes it (``seed_shared``), and again if the store is found to
have lost its data (``lake_month_reader``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gateway_shim.policy.budget_ledger import BudgetLedger
from gateway_shim.policy.cost import month_key
from gateway_shim.state import SeedOutcome, StateBackend
from gateway_shim.state.decisions import ReadMonthSpend
from gateway_shim.telemetry.quarantine import copy_to_quarantine
from gateway_shim.telemetry.spend import month_start_of, next_month, read_month_spend, read_spool, tally
from gateway_shim.telemetry.storage import LakeLocation

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("aigw.server")

Gauges = Callable[[], dict[str, list[tuple[dict[str, str], float]]]]
RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)
SEED_CLAIM_MARGIN_S = 10.0
"""The leader's claim outlives its lake read (``timeout_s``) by this much, for writing the result."""


@dataclass(frozen=True)
class SeedResult:
    month_start: dt.date
    by_tenant: dict[str, float]
    ok: bool
    """False when the lake could not be read within the timeout (seeded from the spool only)."""
    seconds: float
    attempts: int
    events: int = 0
    files: int = 0
    spooled: int = 0
    error: str = ""
    skipped: dict[str, str] = field(default_factory=dict)
    """Lake files left out (path -> reason)."""

    def describe(self) -> str:
        """The one start-up line: where the numbers came from and the totals seeded."""
        tenants = ", ".join(f"{t} ${usd:.2f}" for t, usd in self.by_tenant.items()) or "none"
        total = sum(self.by_tenant.values())
        if self.ok:
            skipped = f"; skipped {len(self.skipped)} bad file(s), see above" if self.skipped else ""
            return (f"aigw serve: budgets seeded from the lake for {self.month_start:%Y-%m}: ${total:.2f} "
                    f"({tenants}) from {self.events} events in {self.files} files + {self.spooled} spooled, "
                    f"in {self.seconds:.2f} s{skipped}")
        return (f"aigw serve: WARNING: budgets NOT seeded from the lake for {self.month_start:%Y-%m} after "
                f"{self.attempts} attempts in {self.seconds:.1f} s ({self.error}); seeded ${total:.2f} "
                f"({tenants}) from {self.spooled} spooled events only: budgets under-count the month")

    def gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        return {
            "aigw_budget_seed_ok": [({}, 1.0 if self.ok else 0.0)],
            "aigw_budget_seed_seconds": [({}, round(self.seconds, 3))],
            "aigw_budget_seed_skipped_files": [({}, float(len(self.skipped)))],
            "aigw_budget_seeded_usd": [({"tenant": t}, usd) for t, usd in self.by_tenant.items()],
        }


async def read_seed(lake: LakeLocation, spool_dir: Path, now: dt.datetime, timeout_s: float) -> SeedResult:
    """The month-to-date spend of ``now``'s month from the lake and the spool, retried up to ``timeout_s``.

    Call it before the lake writer starts (it replays and deletes the spool's segments).
    """
    started = time.monotonic()
    spooled = await asyncio.to_thread(read_spool, spool_dir)
    return await _read_month(lake, month_start_of(now), spooled, timeout_s, started)


async def _read_month(lake: LakeLocation, month_start: dt.date, spooled: list[pa.Table], timeout_s: float,
                      started: float) -> SeedResult:
    spooled_rows = sum(t.num_rows for t in spooled)
    deadline = started + timeout_s
    attempts, error = 0, ""
    while True:
        attempts += 1
        try:
            spend = await asyncio.wait_for(
                asyncio.to_thread(read_month_spend, lake, month_start, spooled),
                max(0.1, deadline - time.monotonic()))
        except Exception as exc:  # any failure to read (network, permissions, a corrupt file): retry
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if str(exc) else type(exc).__name__
            log.warning("reading month-to-date spend from %s failed (attempt %d): %s",
                        lake.url, attempts, error)
        else:
            if spend.skipped:
                await asyncio.to_thread(quarantine_skipped, lake, spend.skipped)
            return SeedResult(month_start, spend.by_tenant, True, time.monotonic() - started, attempts,
                              spend.events, spend.files, spooled_rows, skipped=spend.skipped)
        delay = RETRY_DELAYS_S[min(attempts, len(RETRY_DELAYS_S)) - 1]
        if time.monotonic() + delay >= deadline:
            break
        await asyncio.sleep(delay)
    by_tenant, events = tally(spooled, month_start, next_month(month_start))
    return SeedResult(month_start, by_tenant, False, time.monotonic() - started, attempts,
                      events, 0, spooled_rows, error)


def lake_month_reader(lake: LakeLocation, timeout_s: float) -> ReadMonthSpend:
    """How the seeding leader reads a month again when the shared store lost its data: the lake only
    (the lake writer owns the spool by then), retried up to ``timeout_s``; raises if still unreadable,
    so that the store is seeded later rather than from nothing."""
    async def read(month: int) -> Mapping[str, float]:
        month_start = dt.date(month // 12, month % 12 + 1, 1)
        result = await _read_month(lake, month_start, [], timeout_s, time.monotonic())
        if not result.ok:
            raise RuntimeError(f"the lake at {lake.url} could not be read: {result.error}")
        log.warning("month-to-date spend of %s read again from the lake: $%.2f from %d events in %d files, "
                    "in %.2f s", f"{month_start:%Y-%m}", sum(result.by_tenant.values()), result.events,
                    result.files, result.seconds)
        return result.by_tenant

    return read


def quarantine_skipped(lake: LakeLocation, skipped: dict[str, str]) -> None:
    """Name each skipped file in the log and copy it to the lake's quarantine (left in place: the
    pipeline moves it when it loads the day)."""
    for path, reason in skipped.items():
        log.warning("budget seeding skipped %s: %s", path, reason)
        try:
            target = copy_to_quarantine(lake, path, reason)
        except OSError as exc:
            log.warning("could not copy %s to quarantine: %s", path, exc)
        else:
            log.warning("copied %s to %s", path, target)


def seed_ledger(ledger: BudgetLedger, tenants: Iterable[str], result: SeedResult) -> None:
    """Start each configured tenant's month from the spend read (other tenants in the lake are skipped)."""
    epoch_day = (result.month_start - dt.date(1970, 1, 1)).days
    month = month_key(epoch_day)
    for tenant in tenants:
        spent = result.by_tenant.get(tenant, 0.0)
        if spent:
            ledger.seed(tenant, month, spent)


@dataclass(frozen=True)
class SharedSeed:
    """How this replica's start-up seeding of the shared store went (``state.backend: redis``)."""

    outcome: SeedOutcome
    read: SeedResult | None
    """What this replica read from the lake (it led, or the store was down); ``None`` otherwise."""

    def describe(self, month_start: dt.date) -> str:
        if self.read is not None and self.outcome.leader:
            return f"{self.read.describe()}; written to the shared state for every replica"
        if self.read is not None:
            return (f"{self.read.describe()}; WARNING: the shared state is unreachable, so this replica "
                    "decides on its own share (state.on_unavailable) until it answers")
        if self.outcome.seeded:
            return (f"aigw serve: budgets for {month_start:%Y-%m} already seeded in the shared state "
                    "(by another replica or an earlier start)")
        return (f"aigw serve: WARNING: budgets for {month_start:%Y-%m} NOT seeded: the replica seeding "
                "them did not finish in time; shared spend under-counts the month until one does")

    def gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        if self.read is not None:
            gauges = self.read.gauges()
            gauges["aigw_budget_seed_ok"] = [({}, 1.0 if self.read.ok and self.outcome.seeded else 0.0)]
            return gauges
        return {"aigw_budget_seed_ok": [({}, 1.0 if self.outcome.seeded else 0.0)]}


async def seed_shared(state: StateBackend, lake: LakeLocation, spool_dir: Path, now: dt.datetime,
                      timeout_s: float) -> SharedSeed:
    """The month-to-date spend written once into the shared store: the first replica to claim the
    month reads the lake (``read_seed``) and writes it; the others wait until it is written."""
    read: list[SeedResult] = []

    async def read_lake() -> dict[str, float]:
        read.append(await read_seed(lake, spool_dir, now, timeout_s))
        return read[0].by_tenant

    month_start = month_start_of(now)
    month = month_key((month_start - dt.date(1970, 1, 1)).days)
    outcome = await state.seed_month(month, read_lake, timeout_s + SEED_CLAIM_MARGIN_S)
    return SharedSeed(outcome, read[0] if read else None)
