"""Acknowledged means durable: kill -9 `aigw serve` right after each burst and count lost 200s.

Run:

    .venv/bin/python benchmarks/kill9_durability.py [--rounds 20] [--burst 400] [--concurrency 32]

Each round starts `aigw serve` on the same spool (so it replays what the previous round left),
sends a burst of chat completions with unique trace ids from ``--concurrency`` threads, and sends
SIGKILL the moment the last answer arrived. At the end every trace id that got HTTP 200 is looked
up in the spool's segments and the lake's files. Prints acknowledged, missing, and the time per
round. The figure is in docs/lake.md ("Acknowledged means durable").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import yaml
from gateway_overhead import free_port  # a sibling script: benchmarks/ is on sys.path when run

from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.telemetry.spool import read_segment, segment_files

BODY = orjson.dumps({"model": "auto", "max_tokens": 16,
                     "messages": [{"role": "user", "content": "durable?"}]})


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def config_for(folder: Path, provider_port: int) -> Path:
    """The demo policy against the provider, with limits and budgets that refuse nothing."""
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    for tenant in document["tenants"].values():
        tenant["limits"] = {"requests_per_min": 10**9, "tokens_per_min": 10**12}
        tenant["monthly_budget_usd"] = 1e12
    for provider in document["providers"].values():
        provider["endpoint"] = f"http://127.0.0.1:{provider_port}"
    path = folder / "aigw.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


DEMO_KEY = "demo-acme"
"""The demo config's well-known key for tenant acme."""


def send(url: str, key: str) -> str | None:
    trace = uuid.uuid4().hex
    request = urllib.request.Request(url, data=BODY, method="POST", headers={
        "content-type": "application/json", "authorization": f"Bearer {key}",
        "traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return trace if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def recorded(spool: Path, lake: Path) -> set[str]:
    traces: set[str] = set()
    for segments in spool.rglob("segments"):
        for segment in segment_files(segments):
            traces.update(read_segment(segment).column("trace_id").to_pylist())
    events = lake / "events" / "v1"
    if events.exists():
        table = ds.dataset(str(events), format="parquet", partitioning="hive").to_table(columns=["trace_id"])
        traces.update(table.column("trace_id").to_pylist())
    return traces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    aigw = [sys.executable, "-m", "aigw"]
    key = DEMO_KEY
    with tempfile.TemporaryDirectory(prefix="aigw-kill9-") as tmp:
        folder = Path(tmp)
        log = open(folder / "processes.log", "wb")  # noqa: SIM115 - closed at the end
        provider_port = free_port()
        provider = subprocess.Popen([*aigw, "provider", "--port", str(provider_port), "--time-scale", "0.05"],
                                    stdout=log, stderr=subprocess.STDOUT)
        acknowledged: set[str] = set()
        try:
            wait_http(f"http://127.0.0.1:{provider_port}/healthz", provider)
            config = config_for(folder, provider_port)
            env = {**os.environ, "AIGW_SPOOL": str(folder / "spool")}
            for round_no in range(args.rounds):
                port = free_port()
                gateway = subprocess.Popen(
                    [*aigw, "serve", "--config", str(config), "--port", str(port), "--admin-port", "0",
                     "--lake", str(folder / "lake"), "--gateway-id", "kill9"],
                    stdout=log, stderr=subprocess.STDOUT, env=env)
                wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                started = time.monotonic()
                with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                    traces = [t for t in pool.map(send, [url] * args.burst, [key] * args.burst) if t]
                os.kill(gateway.pid, signal.SIGKILL)
                gateway.wait(timeout=10)
                acknowledged.update(traces)
                print(f"round {round_no + 1}: {len(traces)} of {args.burst} answered 200 in "
                      f"{time.monotonic() - started:.2f} s, then kill -9", file=sys.stderr, flush=True)
        finally:
            provider.send_signal(signal.SIGTERM)
            provider.wait(timeout=20)
            log.close()
        missing = acknowledged - recorded(folder / "spool", folder / "lake")
    print(f"{args.rounds} rounds x {args.burst} requests: {len(acknowledged)} acknowledged (HTTP 200), "
          f"{len(missing)} missing after kill -9")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
