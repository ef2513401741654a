"""Upstream client benchmark: aigw's pooled asyncio+httptools client vs httpx (and httpx2, if installed)
against the simulated provider, side by side in one run.

    .venv/bin/python benchmarks/upstream_client.py [--seconds 3] [--concurrency 1,16,64] [--rounds 3]

The provider (`aigw provider --time-scale 0`, answers at once) runs pinned to CPU 1, this client process
pinned to CPU 0, both on uvloop. Each cell runs `concurrency` workers looping over a small
non-streamed chat completion for `--seconds`; rounds interleave the clients so machine noise hits all
alike, and the median round is reported. CPU per request is this process's CPU time (all threads) over
completed requests; the provider's is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_shim.upstream.http_client import HttpClient, format_headers
from tests.helpers import free_port, wait_for_port

BODY = orjson.dumps({"model": "gpt-4o-mini", "max_tokens": 16,
                     "messages": [{"role": "user", "content": "Summarise the refund policy in one line."}]})
PATH = "/v1/chat/completions"
Call = Callable[[], Awaitable[int]]


@dataclass
class Cell:
    requests: int
    seconds: float
    cpu_s: float
    provider_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.requests

    @property
    def provider_cpu_ms(self) -> float:
        return self.provider_cpu_s * 1000 / self.requests


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _aigw_client(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = HttpClient()
    origin = client.origin(url)
    headers = format_headers({"Content-Type": "application/json"})

    async def call() -> int:
        return (await client.request(origin, "POST", PATH, headers, BODY, 10)).status

    return call, client.aclose


async def _httpx_client(module_name: str, url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    httpx = importlib.import_module(module_name)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    client = httpx.AsyncClient(base_url=url, limits=limits, timeout=10)

    async def call() -> int:
        response = await client.post(PATH, content=BODY, headers={"Content-Type": "application/json"})
        return int(response.status_code)

    return call, client.aclose


async def _run_cell(make: Callable[[], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]],
                    concurrency: int, seconds: float, provider_pid: int) -> Cell:
    call, close = await make()
    for _ in range(3):  # warm the pool
        await asyncio.gather(*[call() for _ in range(concurrency)])
    done = 0
    stop_at = 0.0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            if await call() != 200:
                raise RuntimeError("the provider answered with an error")
            done += 1

    provider_before = _proc_cpu_s(provider_pid)
    cpu_before = time.process_time()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    cell = Cell(done, elapsed, time.process_time() - cpu_before, _proc_cpu_s(provider_pid) - provider_before)
    await close()
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    clients: dict[str, Callable[[str], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]] = {
        "aigw pooled (asyncio+httptools)": _aigw_client}
    for module in ("httpx", "httpx2"):
        with suppress(ImportError):
            importlib.import_module(module)
            clients[f"{module} AsyncClient"] = lambda url, m=module: _httpx_client(m, url)

    port = free_port()
    aigw = str(Path(sys.executable).parent / "aigw")
    command = ["taskset", "-c", "1", aigw, "provider", "--port", str(port), "--time-scale", "0"]
    provider = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.sched_setaffinity(0, {0})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        results: dict[tuple[str, int], list[Cell]] = {}
        for _ in range(args.rounds):
            for concurrency in levels:
                for name, make in clients.items():
                    cell = uvloop.run(_run_cell(lambda make=make: make(url), concurrency, args.seconds,
                                                provider.pid))
                    results.setdefault((name, concurrency), []).append(cell)
    finally:
        provider.terminate()
        provider.wait(timeout=10)

    print(f"# {args.rounds} rounds x {args.seconds:g} s per cell, median round by requests/s; "
          f"provider: aigw provider --time-scale 0 on CPU 1, client on CPU 0")
    print("| client | concurrency | requests/s | client CPU ms/request | provider CPU ms/request "
          "| client CPU vs aigw |")
    print("|---|---:|---:|---:|---:|---:|")
    for concurrency in levels:
        base = None
        for name in clients:
            cells = sorted(results[(name, concurrency)], key=lambda c: c.rps)
            cell = cells[len(cells) // 2]
            base = base or cell.cpu_ms
            print(f"| {name} | {concurrency} | {cell.rps:,.0f} | {cell.cpu_ms:.3f} "
                  f"| {cell.provider_cpu_ms:.3f} | {cell.cpu_ms / base:.1f}x |")
    spread = {key: statistics.pstdev([c.rps for c in cells]) / statistics.mean([c.rps for c in cells])
              for key, cells in results.items()}
    print(f"\nlargest round-to-round spread of requests/s: {max(spread.values()):.0%}")


if __name__ == "__main__":
    main()
