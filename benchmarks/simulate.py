"""Events per second of ``aigw simulate``, measured side by side in one run.

    .venv/bin/python benchmarks/simulate.py [--days 3] [--scale 1] [--cores 1] [--repeat 1]

Over the same window and seed: the engine into a counting sink with compact prompts (the default),
the same with full-size prompts (the guardrails scan every character), and end to end into a
temporary local lake two ways: through the gateway's ``LakeWriter`` as ``aigw serve`` uses it
(``emit`` per event; spool and background threads) and ``aigw simulate``'s own path (``run``:
``LakeSink`` writes the hourly files from the engine's thread). Both freeze the heap loaded before
the run. The process is pinned to ``--cores`` CPUs (default one: the target is events/s on one
core, the writer's threads included).
Wall and CPU time (all threads) are both printed: on a shared machine CPU time is the steadier
figure. With ``--repeat`` the rounds alternate and every row is printed once per round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_shim.simulate.run import Options, Prepared, prepare, run, simulate_into
from gateway_shim.telemetry.lake_writer import LakeWriter

START = dt.date(2026, 11, 2)


def engine_only(prepared: Prepared) -> int:
    count = 0

    def sink(event: dict[str, Any]) -> None:
        nonlocal count
        count += 1

    simulate_into(prepared, sink)
    return count


def lake_writer(prepared: Prepared) -> int:
    """The gateway's lake path: ``LakeWriter.emit`` per event (spool, background threads)."""
    assert prepared.options.lake is not None
    spool = Path(tempfile.mkdtemp(prefix="aigw-bench-spool-"))
    try:
        writer = LakeWriter(prepared.options.lake, prepared.spec.gateway_id, spool_dir=spool, fsync=False)
        gc.freeze()
        with writer:
            count = simulate_into(prepared, writer.emit).events
        if writer.stats()["written"] != count:
            raise SystemExit(f"writer lost events: {writer.stats()}")
        return count
    finally:
        gc.unfreeze()
        shutil.rmtree(spool, ignore_errors=True)


def simulate_run(prepared: Prepared) -> int:
    result = run(prepared)
    if result.events_written != result.stats.events:
        raise SystemExit(f"lost events: {result.stats.events} simulated, {result.events_written} written")
    return result.stats.events


def measure(label: str, how: Callable[[Prepared], int], days: int, scale: float, **extra: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="aigw-bench-lake-") as lake:
        options = Options(days=days, start=START, seed=1, scale=scale, **extra)
        if how is not engine_only:
            options.lake = str(Path(lake) / "lake")
        prepared = prepare(options)
        wall, cpu = time.perf_counter(), time.process_time()
        count = how(prepared)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:44} {count:>9,} events {wall:6.1f} s wall {count / wall:>7,.0f}/s"
          f" {cpu:6.1f} s CPU {count / cpu:>7,.0f}/s {cpu / count * 1e6:5.1f} µs/event", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--cores", type=int, default=1, help="pin the process to this many CPUs (0: all)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"default scenario, {args.days} days from {START}, scale {args.scale:g}, {cores} core(s)")
    for _ in range(args.repeat):
        measure("engine, compact prompts (default)", engine_only, args.days, args.scale,
                prompt_text="compact")
        measure("engine, full-size prompts", engine_only, args.days, args.scale, prompt_text="full")
        measure("end to end, LakeWriter.emit per event", lake_writer, args.days, args.scale)
        measure("end to end, aigw simulate (LakeSink)", simulate_run, args.days, args.scale)


if __name__ == "__main__":
    main()
