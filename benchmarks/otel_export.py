"""CPU cost per request of the OpenTelemetry exporter (one span + metric points per event, OTLP/HTTP).

Run:  .venv/bin/python benchmarks/otel_export.py [--events 20000] [--serve --duration 8]

In-process: ``OtelExporter.emit`` for ``--events`` realistic events, then ``close`` (every span built,
batched and sent, every metric point recorded and flushed) to a local OTLP receiver in another
process. Reported: the CPU of the calling thread inside ``emit`` (what the event loop pays) and the
whole process's CPU (all threads: building spans, encoding protobuf, HTTP) per event, best of
``--repeats``.

``--serve``: the same request load (wrk, 64 connections, provider without delay) through `aigw
serve` without and with ``telemetry.otlp``, gateway pinned to core 1 (wrk and the provider on core
0, the receiver unpinned), CPU ms/request of the gateway process from /proc — the harness of
benchmarks/gateway_overhead.py (needs `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gateway_overhead import (  # noqa: E402 - a sibling script, found through sys.path
    BODY_GATEWAY,
    LOAD_CORE,
    PROXY_CORE,
    free_port,
    gateway_config,
    run_wrk,
    stop,
    wait_http,
)

from gateway_shim.telemetry.otel_export import OtelExporter  # noqa: E402
from gateway_shim.telemetry.otel_settings import ExportSettings  # noqa: E402
from tests.gateway_shim.telemetry.events import make_event  # noqa: E402

RECEIVER = ("from tests.gateway_shim.telemetry.otlp_receiver import OtlpReceiver\n"
            "import sys, time\nr = OtlpReceiver()\nprint(r.url, flush=True)\n"
            "r.traces = type('Drop', (list,), {'append': lambda self, x: None})()\n"
            "r.metrics = type('Drop', (list,), {'append': lambda self, x: None})()\n"
            "time.sleep(3600)\n")


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    """The OTLP receiver in its own process (decodes every request, keeps none)."""
    process = subprocess.Popen([sys.executable, "-c", RECEIVER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def in_process(url: str, events: int, repeats: int) -> tuple[float, float]:
    """(µs of the caller's CPU per emit, µs of the process's CPU per event), best of ``repeats``."""
    settings = ExportSettings(f"{url}/v1/traces", f"{url}/v1/metrics", {}, "aigw-bench")
    batch = [make_event(i + 1) for i in range(events)]
    best_emit = best_total = float("inf")
    for _ in range(repeats):
        exporter = OtelExporter(settings, "bench", {"bedrock": "bedrock"}).start()
        process_start = time.process_time()
        thread_start = time.thread_time()
        for event in batch:
            exporter.emit(event)
        emit_s = time.thread_time() - thread_start
        exporter.close(60)
        total_s = time.process_time() - process_start
        best_emit = min(best_emit, emit_s / events * 1e6)
        best_total = min(best_total, total_s / events * 1e6)
    return best_emit, best_total


def through_serve(url: str, duration: float) -> list[tuple[str, float, float]]:
    """(label, requests/s, gateway CPU ms/request) without and with export."""
    aigw = [sys.executable, "-m", "aigw"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="aigw-otel-bench-") as tmp:
        folder = Path(tmp)
        provider_port = free_port()
        log = open(folder / "processes.log", "wb")  # noqa: SIM115 - closed at the end
        provider = subprocess.Popen(["taskset", "-c", LOAD_CORE, *aigw, "provider", "--port",
                                     str(provider_port), "--time-scale", "0"], stdout=log, stderr=log)
        try:
            wait_http(f"http://127.0.0.1:{provider_port}/healthz")
            for label, otlp in (("aigw", None), ("aigw + OTel export", {"endpoint": url})):
                config = gateway_config(folder, provider_port)
                document = yaml.safe_load(config.read_text())
                if otlp is not None:
                    document["telemetry"] = {"otlp": otlp}
                config.write_text(yaml.safe_dump(document))
                port = free_port()
                env = {**os.environ, "AIGW_SPOOL": str(folder / f"spool-{port}")}
                gateway = subprocess.Popen(
                    ["taskset", "-c", PROXY_CORE, *aigw, "serve", "--config", str(config), "--port",
                     str(port), "--lake", str(folder / "lake"), "--gateway-id", f"bench-{port}"],
                    stdout=log, stderr=log, env=env)
                try:
                    wait_http(f"http://127.0.0.1:{port}/healthz")
                    time.sleep(0.5)
                    result = run_wrk(f"http://127.0.0.1:{port}/v1/chat/completions", BODY_GATEWAY, 64,
                                     duration, folder, [gateway.pid])
                    rows.append((label, result.rps, result.cpu_ms_per_request or 0.0))
                finally:
                    stop(gateway)
        finally:
            stop(provider)
            log.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help="also measure through aigw serve with wrk")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of wrk load per gateway")
    args = parser.parse_args()
    receiver, url = start_receiver()
    try:
        emit_us, total_us = in_process(url, args.events, args.repeats)
        print(f"in process, {args.events} events, best of {args.repeats}:")
        print(f"  emit (the event loop's share): {emit_us:.2f} us/event")
        print(f"  whole process (span + metrics + OTLP export): {total_us:.1f} us/event")
        if args.serve:
            rows = through_serve(url, args.duration)
            print(f"\nwrk 64 connections, {args.duration:g} s, gateway pinned to core {PROXY_CORE}:")
            print("| gateway | requests/s | gateway CPU ms/request |\n|---|---|---|")
            for label, rps, cpu_ms in rows:
                print(f"| {label} | {rps:,.0f} | {cpu_ms:.3f} |")
            if len(rows) == 2:
                print(f"\nexport adds {(rows[1][2] - rows[0][2]) * 1000:.0f} us of gateway CPU per request")
    finally:
        receiver.terminate()
        receiver.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
