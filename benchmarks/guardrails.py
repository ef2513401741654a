"""What the guardrails scan costs on adversarial prompts, and what such prompts cost everyone else.

    .venv/bin/python benchmarks/guardrails.py [--size 1000000] [--runs 3] [--in-flight 20] [--seconds 10]

1. The scan: for each input the best of ``--runs`` timings of the gateway's full scan (fold, deny set,
   every PII detector), and for the two attacks of issue 13 the same pattern on Python's backtracking
   ``re``: that side is timed on a smaller input (``--re-size``, 24 characters for the nested pattern)
   and scaled by its growth, because a full megabyte takes hours.
2. The event loop: a gateway in this process (real HTTP server, core and provider clients, against an
   ``aigw provider`` subprocess, the serve command's GIL switch interval) answers one 1 MB chat request
   of each input while a ticker task on its loop records the largest gap between its ticks: how long
   that request held the loop (median and worst of 5), beside the same ticker's largest gap at idle
   (the machine's own noise: a thread preempted by another process looks the same).
3. Another client: an ``aigw serve`` subprocess, ``/healthz`` on its admin listener polled every
   10 ms for ``--seconds`` by a process of its own, at idle, then with ``--in-flight`` clients each
   sending 1 MB adversarial prompts back to back (the e-mail attack; then all the inputs in turn):
   p50, p99 and max latency.

On one small machine the provider and the prompt senders (elsewhere in production) would take the
gateway's cores; they run at nice 10 (Linux: per thread) so the figures are the gateway's own.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import http.client
import itertools
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import yaml
from gateway_overhead import free_port
from kill9_durability import wait_http  # a sibling script: same processes, same waits

from gateway_shim.config.loader import DEMO_CONFIG, load_config, parse_config
from gateway_shim.config.models import DenyPattern, PiiRedaction
from gateway_shim.core import Gateway
from gateway_shim.policy.guardrails import DenyList, Redactor
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.server.runtime import GIL_SWITCH_INTERVAL_S
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.registry import build_clients

BACKTRACKING_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def best_ms(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def inputs(n: int) -> list[tuple[str, str]]:
    """The adversarial inputs of about ``n`` characters (UTF-8 bytes for the non-ASCII one)."""
    return [
        ("email: 'a'*n + '@!'", "a" * n + "@!"),
        ("deny (a+)+$: 'a'*n + '!'", "a" * n + "!"),
        ("digits and spaces: '1 '*(n/2)", "1 " * (n // 2)),
        ("cards: '4111 1111 1111 1111 '*(n/20)", "4111 1111 1111 1111 " * (n // 20)),
        ("non-ASCII: 'ａ'*(n/3)", "ａ" * (n // 3)),
        ("plain English", ("Summarise the refund policy in two lines. " * (n // 42 + 1))[:n]),
    ]


def scan_table(args: argparse.Namespace) -> None:
    config = load_config(DEMO_CONFIG)
    redactor = Redactor(PiiRedaction())
    deny = DenyList(config.guardrails.deny_patterns)
    nested = DenyList([DenyPattern(name="nested", regex="(a+)+$")])
    nested_re = re.compile("(a+)+$")

    def scan(text: str) -> None:
        deny.first_match(text)
        redactor.redact_text(text, set())

    def email_re_ms(n: int) -> str:
        """The backtracking e-mail pattern grows as n^2: time --re-size characters, scale up."""
        small_ms = best_ms(1, lambda: BACKTRACKING_EMAIL.search("a" * args.re_size + "@!"))
        return f"{small_ms * (n / args.re_size) ** 2:,.0f}"

    def nested_re_ms(n: int) -> str:
        """``(a+)+$`` grows as 2^n on a backtracking engine: 24 characters already take seconds."""
        return f"{best_ms(1, lambda: nested_re.search('a' * 24 + '!')):,.0f} @ 24 chars"

    backtracking: dict[str, Callable[[int], str]] = {"email": email_re_ms, "deny (": nested_re_ms}
    print(f"{'input':40} {'chars':>9} {'RE2 scan ms':>12} {'backtracking re ms':>22}")
    for label, text in inputs(args.size):
        work: Callable[[str], object] = nested.first_match if label.startswith("deny") else scan
        ms = best_ms(args.runs, functools.partial(work, text))
        slow = next((f for prefix, f in backtracking.items() if label.startswith(prefix)), None)
        shown = slow(len(text)) if slow is not None else "-"
        print(f"{label:40} {len(text):>9,} {ms:>12.1f} {shown:>22}")


def config_text(provider_port: int) -> str:
    """The demo policy with room for 1 MB prompts, a nested-quantifier deny pattern, no budget refusals."""
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    document["gateway"]["max_body_bytes"] = 2_000_000
    document["guardrails"]["max_input_tokens"] = 400_000
    document["guardrails"]["deny_patterns"].append({"name": "nested", "regex": "(a+)+$"})
    for tenant in document["tenants"].values():
        tenant["limits"] = {"requests_per_min": 10**9, "tokens_per_min": 10**12}
        tenant["monthly_budget_usd"] = 1e12
    for provider in document["providers"].values():
        provider["endpoint"] = f"http://127.0.0.1:{provider_port}"
    return yaml.safe_dump(document)


DEMO_KEY = "demo-acme"


def chat_body(text: str) -> bytes:
    return orjson.dumps({"model": "auto", "max_tokens": 4, "messages": [{"role": "user", "content": text}]})


def post(port: int, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/chat/completions", body, {
            "content-type": "application/json", "authorization": f"Bearer {DEMO_KEY}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


LOAD_NICENESS = 10
"""The provider's and the senders' CPU priority below the gateway's (see the module docstring)."""


def lower_priority() -> None:
    """This thread (Linux: the nice value is per thread) or child process at ``LOAD_NICENESS``."""
    os.setpriority(os.PRIO_PROCESS, 0, LOAD_NICENESS)


@contextmanager
def provider_process(folder: Path) -> Iterator[int]:
    port = free_port()
    with open(folder / "provider.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "aigw", "provider", "--port", str(port),
                                    "--time-scale", "0.05"], stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=lower_priority)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", process)
            yield port
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


async def loop_blocking(args: argparse.Namespace, provider_port: int) -> None:
    config = parse_config(config_text(provider_port))
    gateway = Gateway(config, gateway_id="bench-loop", emit=lambda event: None)
    clients = build_clients(config, HttpClient())
    app = GatewayApp(config, gateway, clients, gateway_id="bench-loop")
    server = HttpServer(app, Limits(max_body_bytes=config.gateway.max_body_bytes),
                        on_wire_error=app.wire_error, on_handler_error=app.handler_error)
    port = await server.listen("127.0.0.1", 0)
    await asyncio.to_thread(post, port, chat_body("warm up"))
    gc.collect()
    gc.freeze()  # as the serve command does: a full collection then scans only what came after start-up

    async def gap_while(work: Callable[[], object] | None, idle_s: float = 0.0) -> tuple[float, object]:
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.0005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        result: object = None
        if work is None:
            await asyncio.sleep(idle_s)
        else:
            result = await asyncio.to_thread(work)
        done = True
        await task
        return max(gaps) * 1000, result

    samples = max(args.runs, 5)
    idle = sorted([(await gap_while(None, 0.3))[0] for _ in range(samples)])
    print(f"\nEvent loop held by one request: the largest gap between ticks while it is answered, "
          f"median and worst of {samples} (idle 0.3 s: median {idle[samples // 2]:.1f}, "
          f"worst {idle[-1]:.1f} ms)")
    print(f"{'input':40} {'body bytes':>11} {'status':>7} {'median ms':>10} {'worst ms':>9}")
    for label, text in inputs(args.size):
        body = chat_body(text)
        held: list[float] = []
        status: object = None
        for _ in range(samples):
            gap, status = await gap_while(functools.partial(post, port, body))
            held.append(gap)
        held.sort()
        print(f"{label:40} {len(body):>11,} {status!s:>7} {held[samples // 2]:>10.1f} {held[-1]:>9.1f}")
    await server.drain(2)
    await app.native.aclose()
    for client in clients.values():
        await client.aclose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def healthz_waits(admin_port: int, seconds: float) -> list[float]:
    """``poll_healthz`` in a process of its own (at the gateway's priority, no GIL shared with senders)."""
    output = subprocess.run([sys.executable, __file__, "--poll-healthz", str(admin_port), "--seconds",
                             str(seconds)], capture_output=True, check=True, timeout=seconds + 60).stdout
    waits: list[float] = orjson.loads(output)
    return waits


def poll_healthz(admin_port: int, seconds: float) -> list[float]:
    """Latencies (ms) of ``GET /healthz`` every 10 ms on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=30)
    waits: list[float] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            waits.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    finally:
        connection.close()
    return waits


def other_client(args: argparse.Namespace, provider_port: int, folder: Path) -> None:
    config = folder / "aigw.yaml"
    config.write_text(config_text(provider_port))
    port, admin_port = free_port(), free_port()
    env = {**os.environ, "AIGW_SPOOL": str(folder / "spool")}
    with open(folder / "gateway.log", "wb") as log:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "aigw", "serve", "--config", str(config), "--port", str(port),
             "--admin-port", str(admin_port), "--lake", str(folder / "lake"), "--gateway-id", "bench-stall"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_http(f"http://127.0.0.1:{admin_port}/healthz", gateway)
            post(port, chat_body("warm up"))
            every = [chat_body(text) for _, text in inputs(args.size)]
            loads: list[tuple[str, list[bytes]]] = [
                ("idle", []),
                (f"{args.in_flight} x 1 MB e-mail attack in flight", every[:1]),
                (f"{args.in_flight} x 1 MB, all inputs in turn", every),
            ]
            print(f"\nAnother client's GET /healthz (admin listener, every 10 ms for {args.seconds:g} s)")
            print(f"{'load':42} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                  f"{'prompts answered':>17}")
            for label, bodies in loads:
                stop = threading.Event()
                answered: list[int] = []
                turn = itertools.count()

                def sender(bodies: list[bytes] = bodies, stop: threading.Event = stop,
                           answered: list[int] = answered, turn: Iterator[int] = turn) -> None:
                    lower_priority()
                    while not stop.is_set():
                        answered.append(post(port, bodies[next(turn) % len(bodies)]))

                senders = [threading.Thread(target=sender) for _ in range(args.in_flight if bodies else 0)]
                for thread in senders:
                    thread.start()
                time.sleep(0.5 if bodies else 0.0)  # every sender has a prompt in flight
                waits = healthz_waits(admin_port, args.seconds)
                stop.set()
                for thread in senders:
                    thread.join(120)
                statuses = ",".join(f"{s}x{answered.count(s)}" for s in sorted(set(answered))) or "-"
                print(f"{label:42} {len(waits):>6} {percentile(waits, 0.5):>8.1f} "
                      f"{percentile(waits, 0.99):>8.1f} {max(waits):>8.1f} {statuses:>17}")
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--re-size", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scan-only", action="store_true", help="only the scan table (part 1)")
    parser.add_argument("--poll-healthz", type=int, metavar="ADMIN_PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll_healthz is not None:  # the other client of part 3, run by healthz_waits
        sys.stdout.buffer.write(orjson.dumps(poll_healthz(args.poll_healthz, args.seconds)))
        return
    scan_table(args)
    if args.scan_only:
        return
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    with tempfile.TemporaryDirectory(prefix="aigw-guardrails-") as tmp:
        folder = Path(tmp)
        with provider_process(folder) as provider:
            asyncio.run(loop_blocking(args, provider))
            other_client(args, provider, folder)


if __name__ == "__main__":
    main()
