"""A lake holding one month's spend the way replicas leave it: duplicates across files, neighbouring
months, other tenants, events without a tenant or a cost. Used by the spend and budget-seed tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.spool import Spool, encode_journal
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.telemetry.events import make_event


def us(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def spend_events(month_start: dt.date, tenant: str, other: str) -> tuple[list[dict[str, Any]], ...]:
    """Two replicas' batches for ``month_start``'s month; costs are binary fractions so sums are exact.

    ``tenant`` spent 0.25 + 0.5 + 0.125 = 0.875 (0.25 written by both replicas), ``other`` 0.75.
    """
    first = dt.datetime.combine(month_start, dt.time(), dt.UTC)
    before = us(first) - 1  # the last microsecond of the previous month
    after = us(first.replace(month=first.month % 12 + 1, year=first.year + first.month // 12))
    mid = us(first + dt.timedelta(days=1, hours=5))

    def event(i: int, ts: int, owner: str | None, cost: float | None) -> dict[str, Any]:
        return make_event(i, ts, tenant_id=owner, estimated_cost_usd=cost, gateway_id=f"gw-{i % 2}")

    shared = event(1, us(first), tenant, 0.25)
    replica_a = [shared, event(2, mid, tenant, 0.5), event(4, before, tenant, 1.0),
                 event(6, mid, other, 0.75), event(7, mid, None, 4.0)]
    replica_b = [dict(shared), event(3, mid + 1, tenant, 0.125), event(5, after, tenant, 2.0),
                 event(8, mid, tenant, None)]
    return replica_a, replica_b


def write_lake(lake: LakeLocation, spool_root: Path, batches: Sequence[Sequence[dict[str, Any]]]) -> None:
    """Each batch through its own real lake writer (so a duplicated event lands in two files)."""
    for n, batch in enumerate(batches):
        with LakeWriter(lake, f"seed-writer-{n}", spool_dir=spool_root / f"w{n}") as writer:
            for item in batch:
                writer.emit(item)


def leave_in_spool(spool_dir: Path, events: Sequence[dict[str, Any]]) -> None:
    """A spool segment as a crashed gateway leaves it: a journal of durable events, not (all) in the lake."""
    spool = Spool(spool_dir)
    spool.open()
    try:
        segment = spool.new_segment()
        good, lines, bad = encode_journal(list(events))
        assert not bad, bad
        segment.append(good, b"".join(lines))
        segment.sync()
        segment.close()
    finally:
        spool.close()
