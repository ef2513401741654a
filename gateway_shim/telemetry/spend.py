"""Month-to-date spend per tenant, read back from the lake: what a restarted gateway's budgets start from.

Budgets are enforced in memory per process; without this a restart (deploy, crash) would forget the
month's spend. Only this month's ``dt=YYYY-MM-DD`` partitions are listed and read, and only four
columns of them. Delivery is at least once (a spool segment re-uploaded after a crash, or an event both in a
crashed run's spool and already in the lake), so copies of one ``event_id`` count once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from gateway_shim.telemetry.layout import EVENTS_PREFIX, LOAD_TEST_RUN_PREFIX, day_prefix
from gateway_shim.telemetry.schema import EVENT_SCHEMA, READABLE_VERSIONS, schema_problem
from gateway_shim.telemetry.spool import Spool, read_segment, segment_files
from gateway_shim.telemetry.storage import LakeLocation

SPEND_COLUMNS = ("event_id", "tenant_id", "estimated_cost_usd", "ts", "run_id")
_SPEND_SCHEMA = pa.schema([EVENT_SCHEMA.field(name) for name in SPEND_COLUMNS])
READ_THREADS = 8


@dataclass(frozen=True)
class MonthSpend:
    """USD per tenant this month, and what it was computed from (for the start-up log line)."""

    by_tenant: dict[str, float]
    events: int
    """Distinct events of the month (all tenants, every outcome)."""
    files: int
    """Lake files read."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Lake files left out (path relative to the lake root -> why): not Parquet, truncated, or not
    event schema v1 (a cost stored as text is never parsed into money)."""


def month_start_of(moment: dt.datetime) -> dt.date:
    """The first day of ``moment``'s UTC month."""
    return moment.astimezone(dt.UTC).date().replace(day=1)


def next_month(month_start: dt.date) -> dt.date:
    year, month = divmod(month_start.year * 12 + month_start.month, 12)
    return dt.date(year, month + 1, 1)


def month_days(month_start: dt.date) -> list[dt.date]:
    return [month_start + dt.timedelta(days=n) for n in range((next_month(month_start) - month_start).days)]


def month_files(lake: LakeLocation, month_start: dt.date) -> dict[dt.date, list[str]]:
    """The Parquet files of the month's day partitions by day (a listing of ``events/v1``, then each day)."""
    wanted = {lake.path(day_prefix(day)): day for day in month_days(month_start)}
    selector = pafs.FileSelector(lake.path(EVENTS_PREFIX), recursive=False, allow_not_found=True)
    days = sorted(wanted[info.path] for info in lake.filesystem.get_file_info(selector)
                  if info.type == pafs.FileType.Directory and info.path in wanted)
    return {day: [info.path for info in lake.list_files(day_prefix(day)) if info.path.endswith(".parquet")]
            for day in days}


def read_files(lake: LakeLocation, files: Sequence[str]) -> tuple[pa.Table, dict[str, str]]:
    """The spend columns of ``files``, and the files left out with the reason (see ``BadFile``).

    One ``ParquetFile`` per file in a small thread pool rather than a ``pyarrow.dataset`` scan: the
    writer's age rotation leaves many small files (one a minute at low traffic), where a dataset's
    per-fragment overhead was 2x the read (benchmarks/budget_seed.py); threads overlap S3 latency.
    An I/O error (the lake is unreachable) still raises: the caller retries the whole read.
    """
    if not files:
        return _SPEND_SCHEMA.empty_table(), {}
    with ThreadPoolExecutor(min(READ_THREADS, len(files))) as pool:
        results = list(pool.map(lambda path: _read_file(lake.filesystem, path), files))
    prefix = lake.path("") + "/"
    skipped = {path.removeprefix(prefix): str(result)
               for path, result in zip(files, results, strict=True) if isinstance(result, BadFile)}
    tables = [result for result in results if not isinstance(result, BadFile)]
    return (pa.concat_tables(tables) if tables else _SPEND_SCHEMA.empty_table()), skipped


def read_spool(spool_dir: Path) -> list[pa.Table]:
    """The spend columns of every segment a previous run left in its spool (not yet or partly in the lake).

    Read before the lake writer takes the spool: once started, it uploads and deletes these files.
    """
    segments_dir = Spool(spool_dir).segments_dir
    if not segments_dir.is_dir():
        return []
    return [read_segment(path).select(list(SPEND_COLUMNS)) for path in segment_files(segments_dir)]


def tally(tables: Sequence[pa.Table], first: dt.date, end: dt.date) -> tuple[dict[str, float], int]:
    """USD per tenant over the distinct ``event_id`` in ``tables`` with ``first <= ts < end`` (UTC days),
    and the number of those events.

    Pure. Events without a tenant (an unknown API key) and without a cost count as nothing, and so do
    load-test events (``run_id`` starting with ``LOAD_TEST_RUN_PREFIX``): they are not tenant spend.
    """
    table = pa.concat_tables([t.select(list(SPEND_COLUMNS)).cast(_SPEND_SCHEMA) for t in tables]
                             or [_SPEND_SCHEMA.empty_table()])
    table = table.filter(_between(first, end)).combine_chunks()
    distinct = table.group_by("event_id").aggregate(
        [("tenant_id", "one"), ("estimated_cost_usd", "one"), ("run_id", "one")])
    charged = distinct.filter(pc.and_(pc.is_valid(distinct["tenant_id_one"]),
                                      pc.invert(pc.fill_null(pc.starts_with(distinct["run_id_one"],
                                                                            LOAD_TEST_RUN_PREFIX), False))))
    sums = charged.group_by("tenant_id_one").aggregate(
        [("estimated_cost_usd_one", "sum", pc.ScalarAggregateOptions(min_count=0))])
    by_tenant = dict(zip(sums["tenant_id_one"].to_pylist(), sums["estimated_cost_usd_one_sum"].to_pylist(),
                         strict=True))
    return dict(sorted(by_tenant.items())), distinct.num_rows


def read_month_spend(lake: LakeLocation, month_start: dt.date,
                     spooled: Sequence[pa.Table] = ()) -> MonthSpend:
    """The month's spend from the lake plus ``spooled`` events (see ``read_spool``), deduplicated.

    Day by day, so memory holds one day's events: every copy of an event has the event's own ``ts``,
    so all copies fall on the same day (the lake partitions by it; the spool keeps it).
    """
    files = month_files(lake, month_start)
    waiting = pa.concat_tables([t.select(list(SPEND_COLUMNS)).cast(_SPEND_SCHEMA) for t in spooled]
                               or [_SPEND_SCHEMA.empty_table()])
    month = waiting.filter(_between(month_start, next_month(month_start)))
    total: dict[str, float] = {}
    events = 0
    skipped: dict[str, str] = {}
    for day in month_days(month_start):
        end = day + dt.timedelta(days=1)
        from_spool = month.filter(_between(day, end)) if month.num_rows else month
        if not files.get(day) and not from_spool.num_rows:
            continue
        from_lake, bad = read_files(lake, files.get(day, []))
        skipped |= bad
        by_tenant, count = tally([from_lake, from_spool], day, end)
        events += count
        for tenant, usd in by_tenant.items():
            total[tenant] = total.get(tenant, 0.0) + usd
    read = sum(len(f) for f in files.values()) - len(skipped)
    return MonthSpend(dict(sorted(total.items())), events, read, skipped)


class BadFile(ValueError):
    """A lake file that is not a readable schema-v1 event file; the message says why."""


def _read_file(filesystem: pafs.FileSystem, path: str) -> pa.Table | BadFile:
    """The file's spend columns, or ``BadFile`` (checked as the pipeline checks: footer, exact schema,
    no null ids or timestamps, schema_version 1)."""
    try:
        with filesystem.open_input_file(path) as source:
            parquet = pq.ParquetFile(source, pre_buffer=False)
            problem = schema_problem(parquet.schema_arrow)
            if problem is not None:
                return BadFile(problem)
            table = parquet.read(columns=[*SPEND_COLUMNS, "schema_version"], use_threads=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        return BadFile(f"not a readable Parquet file: {exc}")
    for name in ("event_id", "ts"):
        if table.column(name).null_count:
            return BadFile(f"column {name} has null values")
    versions = pc.unique(table.column("schema_version")).to_pylist()
    if any(version not in READABLE_VERSIONS for version in versions):
        return BadFile(f"schema_version {sorted(versions, key=str)} is not one of {list(READABLE_VERSIONS)}")
    return table.select(list(SPEND_COLUMNS)).cast(_SPEND_SCHEMA)


def _between(first: dt.date, end: dt.date) -> pc.Expression:
    ts_type = EVENT_SCHEMA.field("ts").type
    low = pa.scalar(dt.datetime.combine(first, dt.time(), dt.UTC), ts_type)
    high = pa.scalar(dt.datetime.combine(end, dt.time(), dt.UTC), ts_type)
    return (pc.field("ts") >= low) & (pc.field("ts") < high)
