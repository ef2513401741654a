"""Month-to-date spend per tenant, read back from the lake: what a restarted gateway's budgets start from.

Budgets are enforced in memory per process; without this a restart (deploy, crash) would forget the
month's spend. Only this month's ``dt=YYYY-MM-DD`` partitions are listed and read, and only four
columns. Delivery is at least once (a spool segment re-uploaded after a crash, or an event both in a
crashed run's spool and already in the lake), so copies of one ``event_id`` count once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from gateway_shim.telemetry.layout import EVENTS_PREFIX
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.spool import SEGMENT_SUFFIX, Spool, read_segment
from gateway_shim.telemetry.storage import LakeLocation

SPEND_COLUMNS = ("event_id", "tenant_id", "estimated_cost_usd", "ts")
_SPEND_SCHEMA = pa.schema([EVENT_SCHEMA.field(name) for name in SPEND_COLUMNS])


@dataclass(frozen=True)
class MonthSpend:
    """USD per tenant this month, and what it was computed from (for the start-up log line)."""

    by_tenant: dict[str, float]
    events: int
    """Distinct events of the month (all tenants, every outcome)."""
    files: int
    """Lake files read."""


def month_start_of(moment: dt.datetime) -> dt.date:
    """The first day of ``moment``'s UTC month."""
    return moment.astimezone(dt.UTC).date().replace(day=1)


def next_month(month_start: dt.date) -> dt.date:
    year, month = divmod(month_start.year * 12 + month_start.month, 12)
    return dt.date(year, month + 1, 1)


def month_files(lake: LakeLocation, month_start: dt.date) -> list[str]:
    """The Parquet files of the month's day partitions: one listing of ``events/v1``, then each day of it."""
    end = next_month(month_start)
    wanted = {f"dt={month_start + dt.timedelta(days=n)}" for n in range((end - month_start).days)}
    selector = pafs.FileSelector(lake.path(EVENTS_PREFIX), recursive=False, allow_not_found=True)
    days = sorted(info.base_name for info in lake.filesystem.get_file_info(selector)
                  if info.type == pafs.FileType.Directory and info.base_name in wanted)
    return [info.path for day in days for info in lake.list_files(f"{EVENTS_PREFIX}/{day}")
            if info.path.endswith(".parquet")]


def read_lake(lake: LakeLocation, files: Sequence[str], month_start: dt.date) -> pa.Table:
    """The spend columns of the month's events in ``files`` (``ts`` filtered as well as the partitions)."""
    if not files:
        return _SPEND_SCHEMA.empty_table()
    dataset = ds.dataset(list(files), schema=EVENT_SCHEMA, format="parquet", filesystem=lake.filesystem)
    return dataset.to_table(columns=list(SPEND_COLUMNS), filter=_in_month(month_start))


def read_spool(spool_dir: Path) -> list[pa.Table]:
    """The spend columns of every segment a previous run left in its spool (not yet or partly in the lake).

    Read before the lake writer takes the spool: once started, it uploads and deletes these files.
    """
    segments = sorted(Spool(spool_dir).segments_dir.glob(f"*{SEGMENT_SUFFIX}"))
    return [read_segment(path).select(list(SPEND_COLUMNS)) for path in segments]


def tally(tables: Sequence[pa.Table], month_start: dt.date) -> tuple[dict[str, float], int]:
    """USD per tenant over the month's distinct ``event_id`` in ``tables``, and the number of those events.

    Pure. Events without a tenant (an unknown API key) and without a cost count as nothing.
    """
    table = pa.concat_tables([t.select(list(SPEND_COLUMNS)).cast(_SPEND_SCHEMA) for t in tables]
                             or [_SPEND_SCHEMA.empty_table()])
    table = table.filter(_in_month(month_start))
    distinct = table.group_by("event_id").aggregate(
        [("tenant_id", "one"), ("estimated_cost_usd", "one")])
    charged = distinct.filter(pc.is_valid(distinct["tenant_id_one"]))
    sums = charged.group_by("tenant_id_one").aggregate(
        [("estimated_cost_usd_one", "sum", pc.ScalarAggregateOptions(min_count=0))])
    by_tenant = dict(zip(sums["tenant_id_one"].to_pylist(), sums["estimated_cost_usd_one_sum"].to_pylist(),
                         strict=True))
    return dict(sorted(by_tenant.items())), distinct.num_rows


def read_month_spend(lake: LakeLocation, month_start: dt.date,
                     spooled: Sequence[pa.Table] = ()) -> MonthSpend:
    """The month's spend from the lake plus ``spooled`` events (see ``read_spool``), deduplicated."""
    files = month_files(lake, month_start)
    by_tenant, events = tally([read_lake(lake, files, month_start), *spooled], month_start)
    return MonthSpend(by_tenant, events, len(files))


def month_to_date_spend(lake: LakeLocation, month_start: dt.date) -> dict[str, float]:
    """USD per tenant of the UTC month starting ``month_start``, over every replica's events in the lake."""
    return read_month_spend(lake, month_start).by_tenant


def _in_month(month_start: dt.date) -> pc.Expression:
    start = dt.datetime.combine(month_start, dt.time(), dt.UTC)
    end = dt.datetime.combine(next_month(month_start), dt.time(), dt.UTC)
    ts_type = EVENT_SCHEMA.field("ts").type
    return (pc.field("ts") >= pa.scalar(start, ts_type)) & (pc.field("ts") < pa.scalar(end, ts_type))
