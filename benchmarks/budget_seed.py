"""What seeding budgets adds to `aigw serve` start-up: reading a month's spend from a local lake.

    .venv/bin/python benchmarks/budget_seed.py [--events 1000000] [--days 25]

Writes ``--events`` events of one month (ids unique, 1% duplicated into a second file as an
at-least-once re-upload would) in two layouts side by side, then times ``read_month_spend`` (the
whole start-up read: listing the month's partitions, reading four columns, deduplicating):

* hourly: one file per replica and hour (2 replicas), what a busy lake looks like;
* per minute: one file per minute (1 replica), what the lake writer's 60 s age rotation leaves at
  this rate (about 0.5 events/s) — the worst case for file count.

Only the spend columns and a few others are filled; the rest are null (a footer per file still
describes every column).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gateway_shim.telemetry.layout import hour_prefix
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.spend import read_month_spend
from gateway_shim.telemetry.storage import LakeLocation

MONTH = dt.date(2026, 11, 1)
US_PER_DAY = 86_400_000_000


def month_table(events: int, days: int) -> pa.Table:
    start = int(dt.datetime.combine(MONTH, dt.time(), dt.UTC).timestamp()) * 1_000_000
    step = days * US_PER_DAY // events
    columns = {
        "event_id": pa.array([f"00000000-0000-4000-8000-{i:012d}" for i in range(events)]),
        "schema_version": pa.array([1] * events, pa.int16()),
        "ts": pa.array([start + i * step for i in range(events)], pa.timestamp("us", tz="UTC")),
        "gateway_id": pa.array(["gw-a"] * events),
        "tenant_id": pa.array([("acme", "globex", "initech", "tiny")[i % 4] for i in range(events)]),
        "model_name": pa.array(["anthropic.claude-3-5-haiku-v1"] * events),
        "input_tokens": pa.array([100 + i % 50 for i in range(events)], pa.int32()),
        "output_tokens": pa.array([200] * events, pa.int32()),
        "status_code": pa.array([200] * events, pa.int16()),
        "outcome": pa.array(["ok"] * events),
        "estimated_cost_usd": pa.array([0.0005 + (i % 7) * 1e-5 for i in range(events)]),
    }
    return pa.table({f.name: columns.get(f.name, pa.nulls(events, f.type)) for f in EVENT_SCHEMA},
                    schema=EVENT_SCHEMA)


def write_layout(root: Path, table: pa.Table, seconds_per_file: int, replicas: int) -> int:
    """Cut ``table`` into files of ``seconds_per_file`` per replica in the lake layout; the file count."""
    ts = table["ts"].cast(pa.int64()).to_numpy()
    bucket = ts // (seconds_per_file * 1_000_000)
    cuts = [0, *[i for i in range(1, len(bucket)) if bucket[i] != bucket[i - 1]], len(bucket)]
    jobs = []
    for n, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        moment = dt.datetime.fromtimestamp(int(ts[lo]) / 1e6, dt.UTC)
        folder = root / hour_prefix(moment.date(), moment.hour)
        per_replica = (hi - lo) // replicas or 1
        for r in range(replicas):
            length = per_replica if r < replicas - 1 else hi - lo - r * per_replica
            part = table.slice(lo + r * per_replica, length)
            if n % 100 == 0 and r == 0:  # an at-least-once re-upload: a copy of 1% of the files
                jobs.append((folder / f"gw-{r}-{n:06d}-dup.parquet", part))
            jobs.append((folder / f"gw-{r}-{n:06d}.parquet", part))
    for folder in {path.parent for path, _ in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda job: pq.write_table(job[1], job[0], compression="zstd"), jobs))
    return len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=25)
    args = parser.parse_args()
    table = month_table(args.events, args.days)
    with tempfile.TemporaryDirectory(prefix="aigw-seed-bench-") as tmp:
        for name, seconds, replicas in (("hourly", 3600, 2), ("per minute", 60, 1)):
            root = Path(tmp) / name.replace(" ", "-")
            began = time.perf_counter()
            files = write_layout(root, table, seconds, replicas)
            written = time.perf_counter() - began
            lake = LakeLocation.parse(str(root))
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            began = time.perf_counter()
            spend = read_month_spend(lake, MONTH)
            seconds_taken = time.perf_counter() - began
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"{name:>10}: {files} files, {spend.events} distinct events, "
                  f"${sum(spend.by_tenant.values()):.2f}: read in {seconds_taken:.2f} s "
                  f"(peak RSS +{(rss_after - rss_before) / 1024:.0f} MiB; writing took {written:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
