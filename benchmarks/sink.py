"""Lake writer throughput against its floor, measured side by side in one run.

    .venv/bin/python benchmarks/sink.py [--events 200000] [--repeat 3] [--cores 1]

* floor: pyarrow writing the same rows from a prepared table to one zstd Parquet file;
* writer: ``LakeWriter.emit`` for every event dict, then ``flush()`` until all are in the lake
  (conversion, spool with fsync, Parquet encoding and the whole-file write included);
* emit alone: CPU of the emitting thread per event (what a gateway request pays inline);
* Parquet encoding of the prepared table with pyarrow's default dictionaries (the writer before)
  and with the writer's ``encode_parquet`` (dictionaries for low-cardinality columns only);
* group commits as ``aigw serve`` makes them (``--commit-events`` events emitted, ``commit_soon``, wait
  for the commit report), CPU and wall time per commit, beside their floor: the same journal bytes
  appended to a preallocated file with ``os.write`` + ``os.fdatasync`` (the durable write alone).

The process is pinned to ``--cores`` CPUs, so "events/s" is per that many cores. The last line
compares the writer's total CPU per event with 5% of the gateway's 250 µs per-request budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.parquet_encoding import encode_parquet
from gateway_shim.telemetry.schema import EVENT_SCHEMA

GATEWAY_BUDGET_US = 250.0
BASE_TS = 1_795_996_800_000_000


def make_events(count: int) -> list[dict[str, Any]]:
    """Realistic events: about 1 ms apart, mixed tenants, models and outcomes."""
    models = ("anthropic.claude-3-5-haiku-v1", "anthropic.claude-3-5-sonnet-v2", "meta.llama3-70b")
    return [
        {
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "schema_version": 1,
            "ts": BASE_TS + i * 1000,
            "trace_id": f"{i:032x}",
            "gateway_id": "gw-bench",
            "tenant_id": ("acme", "globex", "initech")[i % 3],
            "team": ("payments", "support", "search")[i % 3],
            "app_id": ("checkout", "helpdesk", "finder")[i % 3],
            "user_id": f"user-{i % 997}",
            "workflow": ("support-summary", "fraud-check", "search-answer")[i % 3],
            "sensitivity": ("public", "internal", "restricted")[i % 3],
            "latency_class": ("interactive", "standard", "batch")[i % 3],
            "budget_class": "standard",
            "model_requested": "",
            "model_provider": "bedrock",
            "model_route": "interactive-chat",
            "model_name": models[i % 3],
            "prompt_version": "v3",
            "input_tokens": 100 + i % 900,
            "output_tokens": 50 + i % 400,
            "retrieval_latency_ms": 12.5,
            "inference_latency_ms": 300.0 + i % 500,
            "gateway_overhead_ms": 0.2,
            "total_latency_ms": 320.0 + i % 500,
            "ttft_ms": 120.0 + i % 80,
            "status_code": 200 if i % 50 else 429,
            "outcome": "ok" if i % 50 else "throttled",
            "error_type": None if i % 50 else "rate_limit",
            "fallback_used": i % 20 == 0,
            "fallback_reason": "upstream_error" if i % 20 == 0 else None,
            "attempts": 1 + (i % 20 == 0),
            "validation_result": "passed",
            "guardrail_actions": ["pii_redacted:email"] if i % 11 == 0 else [],
            "policy_version": "9fae1b97f33e",
            "estimated_cost_usd": 0.0001 * (i % 37),
            "streamed": i % 2 == 0,
            "run_id": None,
        }
        for i in range(count)
    ]


def floor_run(table: pa.Table, folder: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds of pyarrow writing the prepared table."""
    cpu_started, started = time.process_time(), time.perf_counter()
    pq.write_table(table, folder / "floor.parquet", compression="zstd")
    return time.perf_counter() - started, time.process_time() - cpu_started


def encode_cpu(table: pa.Table, default_dictionaries: bool) -> tuple[float, int]:
    """CPU seconds and bytes of one zstd Parquet file in memory."""
    cpu_started = time.process_time()
    if default_dictionaries:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        size = sink.getvalue().size
    else:
        size = encode_parquet(table).size
    return time.process_time() - cpu_started, size


def writer_run(events: list[dict[str, Any]], folder: Path) -> tuple[float, float, float]:
    """Wall seconds from first emit to all in the lake, emitting thread CPU, whole-process CPU."""
    writer = LakeWriter(str(folder / "lake"), "gw-bench", spool_dir=folder / "spool").start()
    cpu_started, started = time.process_time(), time.perf_counter()
    thread_started = time.thread_time()
    emit = writer.emit
    for event in events:
        emit(event)
    emit_cpu = time.thread_time() - thread_started
    if not writer.flush(timeout=300):
        raise SystemExit(f"writer did not drain: {writer.stats()}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    writer.close()
    if writer.stats()["written"] != len(events):
        raise SystemExit(f"writer lost events: {writer.stats()}")
    return elapsed, emit_cpu, cpu


def group_commit_run(events: list[dict[str, Any]], folder: Path, per_commit: int) -> tuple[float, float]:
    """CPU and wall seconds per group commit of ``per_commit`` events, as a waiting response makes them."""
    writer = LakeWriter(str(folder / "lake"), "gw-commit", spool_dir=folder / "spool").start()
    committed = threading.Event()
    target = [0]

    def listen(last_seq: int, _lost: tuple[int, ...]) -> None:
        if last_seq >= target[0]:
            committed.set()

    writer.commits.subscribe(listen)
    commits = len(events) // per_commit
    cpu_started, started = time.process_time(), time.perf_counter()
    for start in range(0, commits * per_commit, per_commit):
        for event in events[start : start + per_commit]:
            target[0] = writer.emit(dict(event))
        committed.clear()
        writer.commit_soon()
        if not committed.wait(10):
            raise SystemExit(f"no commit report within 10 s: {writer.stats()}")
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - started
    writer.close()
    return cpu / commits, wall / commits


def durable_write_floor(events: list[dict[str, Any]], folder: Path, per_commit: int) -> tuple[float, float]:
    """CPU and wall seconds per commit of only appending the same journal lines and syncing them."""
    lines = [orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE) for event in events]
    chunks = [b"".join(lines[i : i + per_commit]) for i in range(0, len(lines) - per_commit + 1, per_commit)]
    fd = os.open(folder / "floor.jsonl", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, sum(map(len, chunks)))
        cpu_started, started = time.process_time(), time.perf_counter()
        for chunk in chunks:
            os.write(fd, chunk)
            os.fdatasync(fd)
        cpu, wall = time.process_time() - cpu_started, time.perf_counter() - started
    finally:
        os.close(fd)
    return cpu / len(chunks), wall / len(chunks)


def row(label: str, n: int, wall_s: float, cpu_s: float) -> str:
    return f"{label:30}{n / wall_s:>12,.0f}{n / cpu_s:>14,.0f}{cpu_s / n * 1e6:>12.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=1, help="pin the process to this many CPUs")
    parser.add_argument("--commit-events", type=int, default=4, help="events per measured group commit")
    parser.add_argument("--commits", type=int, default=2000, help="group commits measured per run")
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])

    n = args.events
    floors, floor_cpus, walls, emits, cpus = [], [], [], [], []
    encodes, group_commits, write_floors = [], [], []
    for _ in range(args.repeat):
        events = make_events(n)
        table = pa.Table.from_pylist(events, schema=EVENT_SCHEMA)
        with tempfile.TemporaryDirectory(prefix="aigw-sink-") as folder:
            floor_wall, floor_cpu = floor_run(table, Path(folder))
            wall, emit_cpu, cpu = writer_run(events, Path(folder))
            committed = events[: args.commits * args.commit_events]
            group_commits.append(group_commit_run(committed, Path(folder), args.commit_events))
            write_floors.append(durable_write_floor(committed, Path(folder), args.commit_events))
        encodes.append((encode_cpu(table, True), encode_cpu(table, False)))
        floors.append(floor_wall)
        floor_cpus.append(floor_cpu)
        walls.append(wall)
        emits.append(emit_cpu)
        cpus.append(cpu)

    med = statistics.median
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{n} events, median of {args.repeat} runs, pinned to {cores} core(s), pyarrow {pa.__version__}")
    print(f"{'':30}{'events/s':>12}{'events/CPU-s':>14}{'CPU µs/ev':>12}")
    print(row("floor: pyarrow write_table", n, med(floors), med(floor_cpus)))
    print(row("LakeWriter emit → lake", n, med(walls), med(cpus)))
    print(row("emit alone (caller thread)", n, med(emits), med(emits)))
    for label, k in (("pyarrow default dictionaries", 0), ("writer's encode_parquet", 1)):
        cpu_s, size = med(e[k][0] for e in encodes), med(e[k][1] for e in encodes)
        print(f"Parquet encoding, {label:29}{cpu_s / n * 1e6:>8.2f} µs/ev {size / n:>6.1f} B/ev")
    print(
        f"writer / floor: {med(walls) / med(floors):.1f}x the wall time, "
        f"{med(cpus) / med(floor_cpus):.1f}x the CPU"
    )
    cpu_us = med(cpus) / n * 1e6
    share = cpu_us / GATEWAY_BUDGET_US * 100
    budget = f"{GATEWAY_BUDGET_US:.0f} µs"
    print(f"writer total CPU per event: {cpu_us:.2f} µs = {share:.1f}% of a {budget} request's CPU budget")
    commit_cpu, commit_wall = med(c for c, _ in group_commits), med(w for _, w in group_commits)
    floor_cpu, floor_wall = med(c for c, _ in write_floors), med(w for _, w in write_floors)
    print(f"group commits of {args.commit_events} events ({args.commits} per run): "
          f"{commit_cpu * 1e6:.0f} µs CPU and {commit_wall * 1e3:.2f} ms wall per commit; "
          f"durable-write floor {floor_cpu * 1e6:.0f} µs CPU and {floor_wall * 1e3:.2f} ms wall: "
          f"{commit_cpu / floor_cpu:.1f}x its CPU, {commit_wall / floor_wall:.1f}x its wall time")


if __name__ == "__main__":
    main()
