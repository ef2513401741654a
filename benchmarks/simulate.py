"""Events per second of ``aigw simulate``, measured side by side in one run.

    .venv/bin/python benchmarks/simulate.py [--days 3] [--scale 1]

Three ways over the same window and seed: the engine into a counting sink with compact prompts (the
default), the same with full-size prompts (the guardrails scan every character), and end to end with
the lake writer into a temporary local lake. Wall and CPU time (all threads) are both printed: on a
shared machine CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway_shim.simulate.run import Options, prepare, run, simulate_into

START = dt.date(2026, 11, 2)


def measure(label: str, days: int, scale: float, **extra: Any) -> None:
    options = Options(days=days, start=START, seed=1, scale=scale, **extra)
    prepared = prepare(options)
    count = 0

    def sink(event: dict[str, Any]) -> None:
        nonlocal count
        count += 1

    wall, cpu = time.perf_counter(), time.process_time()
    if options.lake is None:
        simulate_into(prepared, sink)
    else:
        count = run(prepared).stats.events
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:38} {count:>10,} events  {wall:7.1f} s wall {count / wall:>9,.0f}/s"
          f"  {cpu:7.1f} s CPU {count / cpu:>9,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    print(f"default scenario, {args.days} days from {START}, scale {args.scale:g}")
    measure("engine, compact prompts (default)", args.days, args.scale, prompt_text="compact")
    measure("engine, full-size prompts", args.days, args.scale, prompt_text="full")
    with tempfile.TemporaryDirectory() as lake:
        measure("end to end into a local lake", args.days, args.scale, lake=str(Path(lake) / "lake"))


if __name__ == "__main__":
    main()
