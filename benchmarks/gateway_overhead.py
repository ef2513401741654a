"""What a proxy hop costs: wrk → simulated provider, directly, through nginx, and through `aigw serve`.

Run (needs `apt-get install wrk nginx redis-server`):

    .venv/bin/python benchmarks/gateway_overhead.py [--duration 8] [--loop asyncio] [--redis-connections 64]

One run, side by side: for provider delays of 0 and 50 ms, 16 and 64 connections and two request
sizes, wrk drives a chat-completions POST (``small``: ~120 bytes of text; ``large``: ~100 KB with ten
tools, a 94 KB base64 image and 1 KB of text, so the fidelity path (whole body parsed, forwarded and
answered with a tool call) is measured too) (a) straight to `aigw provider`, (b) through a plain
nginx reverse proxy (one worker, upstream keep-alive, request bodies kept in memory: the floor for a
proxy hop), (c) through `aigw serve` with policy, routing and telemetry (lake writer) on. The proxy
(nginx or the gateway) is pinned to core 1 with taskset; wrk and the provider share core 0. CPU
ms/request is the proxy process's utime+stime (all threads, from /proc) over the requests wrk
completed. "aigw own ms/req" is the mean of the
events' gateway_overhead_ms (wall time in the gateway minus upstream and queue time) and "max loop
lag" how late its event loop ran a 100 ms tick at worst: both from /metrics, they tell the gateway's
own time apart from time lost to a busy machine. Printed as a Markdown table with the
gateway's figures as ratios to direct and to nginx.

The last lines judge issue 12's goals cell by cell: the 100 KB request's CPU at most 2x the small
one's, and (with ``--baseline-ref``) the small request's CPU no more than REF's.

``--baseline-ref REF`` also runs `aigw serve` from a copy of REF (`git archive`; same venv and config)
in every cell and prints a second table of added latency, current against REF: how a change on the
request path (the durable acknowledgement's group commit, say) moves p50 and p99, in one run.

Shared state: at the connection counts of ``--redis-connections`` (64 by default; "" to skip) and the
small body, a second `aigw serve`, identical but for `state.backend: redis` on a private
`redis-server` (pinned with wrk and the provider), is measured right after the memory one; another
table gives both gateways' CPU per request, the difference, and redis-server's own CPU per request.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway_shim.config.loader import DEMO_CONFIG

ROOT = Path(__file__).resolve().parent.parent
BODY_DIRECT = {"model": "anthropic.claude-3-5-haiku-v1", "max_tokens": 16,
               "messages": [{"role": "user", "content": "Summarise the ticket in one line."}]}
BODY_GATEWAY = {**BODY_DIRECT, "model": "auto"}


def large_body(model: str) -> dict[str, object]:
    """~100 KB: ten tools with JSON-schema parameters, a 94 KB base64 image, 1 KB of text."""
    tools = [{"type": "function", "function": {
        "name": f"lookup_{i}", "description": f"Look up record kind {i} in the back office " * 4,
        "parameters": {"type": "object", "required": ["id", "fields"], "properties": {
            "id": {"type": "string", "description": "the record id"},
            "fields": {"type": "array", "items": {"type": "string", "enum": [f"f{j}" for j in range(12)]}},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100}}}}} for i in range(10)]
    image = base64.b64encode(bytes(range(256)) * 275).decode()  # 70,400 bytes -> 93,868 base64 chars
    text = "Find the invoices of the customer in the attached screenshot and summarise them. " * 12
    return {"model": model, "max_tokens": 16, "tools": tools, "tool_choice": "auto", "messages": [
        {"role": "system", "content": "You are the back-office assistant."},
        {"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}]}]}


BODIES = {"small": (BODY_DIRECT, BODY_GATEWAY),
          "large": (large_body("gpt-4o-mini"), large_body("auto"))}
TICKS = os.sysconf("SC_CLK_TCK")
PROXY_CORE, LOAD_CORE = "1", "0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    return total / TICKS


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def scrape(url: str) -> tuple[float, float, float]:
    """(sum, count) of the gateway's own time per request so far, and the event loop's longest lag
    since the previous scrape, from /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = sum(float(v) for v in re.findall(r"^aigw_gateway_overhead_ms_sum\S* (\S+)$", text, re.M))
    count = sum(float(v) for v in re.findall(r"^aigw_gateway_overhead_ms_count\S* (\S+)$", text, re.M))
    lag = re.search(r"^aigw_event_loop_lag_max_ms (\S+)$", text, re.M)
    return total, count, float(lag.group(1)) if lag else float("nan")


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    requests: int
    errors: int
    beside_cpu_ms_per_request: float | None = None
    """CPU per request of the ``beside`` processes (redis-server), over the same measured run."""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, body: dict[str, object], connections: int, duration: float, script_dir: Path,
            proxy_pids: list[int] | None, beside: list[int] | None = None) -> Result:
    script = script_dir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer demo-acme"\n')
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s",
               "--latency", "-s", str(script), url]
    subprocess.run([*command[:6], "-d1s", *command[7:]], capture_output=True, check=True)  # warm-up
    before = cpu_seconds(proxy_pids) if proxy_pids else 0.0
    beside_before = cpu_seconds(beside) if beside else 0.0
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(proxy_pids) if proxy_pids else 0.0
    beside_after = cpu_seconds(beside) if beside else 0.0
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    p50 = _ms(*re.match(r"([\d.]+)(\w+)", latency["50"]).groups())  # type: ignore[union-attr]
    p99 = _ms(*re.match(r"([\d.]+)(\w+)", latency["99"]).groups())  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    cpu = (after - before) * 1000 / requests if proxy_pids and requests else None
    beside_cpu = (beside_after - beside_before) * 1000 / requests if beside and requests else None
    return Result(rps, p50, p99, cpu, requests, errors, beside_cpu)


def nginx_conf(folder: Path, port: int, upstream: int) -> Path:
    conf = folder / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_buffer_size 1m;  # a 100 KB body stays in memory (the default 16 KB spills it to a temp file)
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream provider {{ server 127.0.0.1:{upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
    return conf


def gateway_config(folder: Path, provider_port: int, demo: Path = DEMO_CONFIG,
                   name: str = "aigw.yaml") -> Path:
    """The demo policy pointed at the provider, with limits and budgets too large to refuse anything.
    A baseline gateway gets its own version's demo policy: a newer one may hold keys it does not know."""
    document = yaml.safe_load(demo.read_text())
    for tenant in document["tenants"].values():
        tenant["limits"] = {"requests_per_min": 10**9, "tokens_per_min": 10**12}
        tenant["monthly_budget_usd"] = 1e12
    for lane in document["lanes"].values():
        lane["max_concurrency"] = 1024
    for provider in document["providers"].values():
        provider["endpoint"] = f"http://127.0.0.1:{provider_port}"
    path = folder / name
    path.write_text(yaml.safe_dump(document))
    return path


def with_redis(config: Path, port: int) -> Path:
    """The same policy with every budget and limit decided in a shared Redis (budgets within Lua's
    exact integers: nano-USD below 2^53)."""
    document = yaml.safe_load(config.read_text())
    for tenant in document["tenants"].values():
        tenant["monthly_budget_usd"] = 1e6
    document["state"] = {"backend": "redis", "url": f"redis://127.0.0.1:{port}/0", "key_prefix": "bench:"}
    path = config.with_name("aigw-redis.yaml")
    path.write_text(yaml.safe_dump(document))
    return path


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def set_delay(provider_url: str, delay_ms: float) -> None:
    request = urllib.request.Request(f"{provider_url}/_control/faults", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()
    if delay_ms:
        body = json.dumps({"model": "*", "added_latency_ms": delay_ms}).encode()
        request = urllib.request.Request(f"{provider_url}/_control/faults", data=body, method="POST",
                                         headers={"content-type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per cell")
    parser.add_argument("--delays", default="0,50", help="provider delays in ms")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--sizes", default="small,large", help="request bodies: small, large (~100 KB)")
    parser.add_argument("--loop", default="uvloop", choices=["asyncio", "uvloop"], help="aigw serve --loop")
    parser.add_argument("--baseline-ref", default=None,
                        help="also run aigw serve from this git ref (a temporary worktree), side by side")
    parser.add_argument("--redis-connections", default="64",
                        help="connection counts at which to also measure state.backend: redis ('' = none)")
    args = parser.parse_args()
    redis_connections = {int(c) for c in args.redis_connections.split(",") if c}
    for tool in ("wrk", "nginx", "taskset", *(("redis-server",) if redis_connections else ())):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install -y wrk nginx util-linux", file=sys.stderr)
            return 2
    aigw = [sys.executable, "-m", "aigw"]
    with tempfile.TemporaryDirectory(prefix="aigw-bench-") as tmp:
        folder = Path(tmp)
        ports = {name: free_port() for name in
                 ("provider", "nginx", "gateway", "admin", "redis", "gateway_redis", "admin_redis")}
        log = open(folder / "processes.log", "wb")  # noqa: SIM115 - closed at the end
        provider = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, *aigw, "provider", "--port", str(ports["provider"]),
             "--time-scale", "0"], stdout=log, stderr=subprocess.STDOUT)
        nginx = subprocess.Popen(["taskset", "-c", PROXY_CORE, "nginx", "-c",
                                  str(nginx_conf(folder, ports["nginx"], ports["provider"])),
                                  "-p", str(folder)], stdout=log, stderr=subprocess.STDOUT)
        env = {**os.environ, "AIGW_SPOOL": str(folder / "spool")}
        config = gateway_config(folder, ports["provider"])
        gateway = subprocess.Popen(
            ["taskset", "-c", PROXY_CORE, *aigw, "serve", "--config",
             str(config), "--port", str(ports["gateway"]), "--admin-port", str(ports["admin"]),
             "--lake", str(folder / "lake"), "--gateway-id", "bench", "--loop", args.loop],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        baseline = None
        if args.baseline_ref:
            ports["baseline"] = free_port()
            source = folder / "baseline-src"
            source.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_ref],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
            own_demo = source / DEMO_CONFIG.relative_to(ROOT)
            baseline_config = gateway_config(folder, ports["provider"], own_demo, "aigw-baseline.yaml")
            baseline = subprocess.Popen(  # `python -m` from the worktree imports its code, not ours
                ["taskset", "-c", PROXY_CORE, *aigw, "serve", "--config", str(baseline_config),
                 "--port", str(ports["baseline"]), "--lake", str(folder / "lake-baseline"),
                 "--gateway-id", "bench-baseline", "--loop", args.loop],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=source)
        shared: list[subprocess.Popen[bytes]] = []
        if redis_connections:
            shared.append(subprocess.Popen(
                ["taskset", "-c", LOAD_CORE, "redis-server", "--port", str(ports["redis"]), "--bind",
                 "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT))
            time.sleep(0.5)
            shared.append(subprocess.Popen(
                ["taskset", "-c", PROXY_CORE, *aigw, "serve", "--config",
                 str(with_redis(config, ports["redis"])), "--port", str(ports["gateway_redis"]),
                 "--admin-port", str(ports["admin_redis"]),
                 "--lake", str(folder / "lake"), "--gateway-id", "bench-redis", "--loop", args.loop],
                stdout=log, stderr=subprocess.STDOUT, env={**env, "AIGW_SPOOL": str(folder / "spool-redis")}))
        try:
            provider_url = f"http://127.0.0.1:{ports['provider']}"
            wait_http(f"{provider_url}/healthz")
            wait_http(f"http://127.0.0.1:{ports['nginx']}/healthz")
            wait_http(f"http://127.0.0.1:{ports['gateway']}/healthz")
            if baseline is not None:
                wait_http(f"http://127.0.0.1:{ports['baseline']}/healthz")
            if shared:
                wait_http(f"http://127.0.0.1:{ports['gateway_redis']}/healthz")
            time.sleep(0.5)
            nginx_pids = [nginx.pid, *children(nginx.pid)]
            rows = []
            compared: list[tuple[float, int, Result, Result, Result]] = []
            redis_rows: list[RedisRow] = []
            for size in args.sizes.split(","):
                body_direct, body_gateway = BODIES[size]
                for delay in (float(d) for d in args.delays.split(",")):
                    set_delay(provider_url, delay)
                    for connections in (int(c) for c in args.connections.split(",")):
                        direct = run_wrk(f"{provider_url}/v1/chat/completions", body_direct, connections,
                                         args.duration, folder, None)
                        nginx_url = f"http://127.0.0.1:{ports['nginx']}/v1/chat/completions"
                        proxied = run_wrk(nginx_url, body_direct, connections, args.duration, folder,
                                          nginx_pids)
                        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
                        admin_url = f"http://127.0.0.1:{ports['admin']}"
                        before = scrape(admin_url)
                        ours = run_wrk(f"{gateway_url}/v1/chat/completions", body_gateway,
                                       connections, args.duration, folder, [gateway.pid])
                        after = scrape(admin_url)
                        own_ms = (after[0] - before[0]) / max(1.0, after[1] - before[1])
                        rows.append((size, delay, connections, direct, proxied, ours, own_ms, after[2]))
                        if baseline is not None and size == "small":
                            before_ref = run_wrk(
                                f"http://127.0.0.1:{ports['baseline']}/v1/chat/completions", body_gateway,
                                connections, args.duration, folder, [baseline.pid])
                            compared.append((delay, connections, direct, before_ref, ours))
                        print(f"{size}, delay {delay:g} ms, {connections} conns: "
                              f"direct {direct.rps:.0f} rps, "
                              f"nginx {proxied.rps:.0f} rps, aigw {ours.rps:.0f} rps "
                              f"({ours.cpu_ms_per_request or 0:.3f} ms CPU/req, errors {ours.errors})",
                              file=sys.stderr, flush=True)
                        if shared and size == "small" and connections in redis_connections:
                            on_redis = run_wrk(
                                f"http://127.0.0.1:{ports['gateway_redis']}/v1/chat/completions",
                                body_gateway, connections, args.duration, folder, [shared[1].pid],
                                [shared[0].pid])
                            redis_rows.append((delay, connections, ours, on_redis))
                            print(f"  aigw with state.backend redis: {on_redis.rps:.0f} rps "
                                  f"({on_redis.cpu_ms_per_request or 0:.3f} ms CPU/req, "
                                  f"errors {on_redis.errors})", file=sys.stderr, flush=True)
        finally:
            for process in (gateway, *reversed(shared), nginx, provider, *([baseline] if baseline else [])):
                stop(process)
            log.close()
    print(render(rows, args))
    if compared:
        print()
        print(render_baseline(compared, args.baseline_ref))
    if redis_rows:
        print()
        print(render_redis(redis_rows))
    goals = render_goals(rows, compared, args.baseline_ref)
    if goals:
        print()
        print(goals)
    return 0


RedisRow = tuple[float, int, Result, Result]


def render_redis(rows: list[RedisRow]) -> str:
    lines = [
        "| delay | conns | aigw memory rps | aigw redis rps | memory CPU ms/req | redis CPU ms/req "
        "| added CPU ms/req | redis-server CPU ms/req | errors (m/r) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for delay, connections, memory, on_redis in rows:
        memory_cpu = memory.cpu_ms_per_request or 0.0
        redis_cpu = on_redis.cpu_ms_per_request or 0.0
        server_cpu = on_redis.beside_cpu_ms_per_request or 0.0
        lines.append(
            f"| {delay:g} ms | {connections} | {memory.rps:,.0f} | {on_redis.rps:,.0f} | {memory_cpu:.3f} "
            f"| {redis_cpu:.3f} | {redis_cpu - memory_cpu:+.3f} | {server_cpu:.3f} "
            f"| {memory.errors}/{on_redis.errors} |")
    return "\n".join(lines)


Row = tuple[str, float, int, Result, Result, Result, float, float]


def render(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        f"wrk -t1, {args.duration:g} s per cell, proxy pinned to core {PROXY_CORE}, "
        f"wrk + provider on core {LOAD_CORE}; aigw serve --loop {args.loop}",
        "",
        "| body | delay | conns | direct rps | nginx rps | aigw rps | aigw/direct rps | aigw/nginx rps "
        "| nginx CPU ms/req | aigw CPU ms/req | aigw/nginx CPU | added p50 nginx / aigw (ms) "
        "| added p99 nginx / aigw (ms) | aigw own ms/req | aigw max loop lag (ms) | errors (d/n/a) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, delay, connections, direct, proxied, ours, own_ms, lag_ms in rows:
        nginx_cpu = proxied.cpu_ms_per_request or 0.0
        ours_cpu = ours.cpu_ms_per_request or 0.0
        lines.append(
            f"| {size} | {delay:g} ms | {connections} | {direct.rps:,.0f} | {proxied.rps:,.0f} "
            f"| {ours.rps:,.0f} "
            f"| {ours.rps / direct.rps:.2f} | {ours.rps / proxied.rps:.2f} "
            f"| {nginx_cpu:.3f} | {ours_cpu:.3f} "
            f"| {ours_cpu / nginx_cpu if nginx_cpu else float('nan'):.1f}x "
            f"| {proxied.p50_ms - direct.p50_ms:+.2f} / {ours.p50_ms - direct.p50_ms:+.2f} "
            f"| {proxied.p99_ms - direct.p99_ms:+.2f} / {ours.p99_ms - direct.p99_ms:+.2f} "
            f"| {own_ms:.3f} | {lag_ms:.0f} | {direct.errors}/{proxied.errors}/{ours.errors} |")
    return "\n".join(lines)


LARGE_OVER_SMALL_GOAL = 2.0
"""Issue 12: the 100 KB request's gateway CPU at most 2x the small one's."""
BASELINE_GOAL = 1.0
"""Issue 12: the small request's CPU must not regress against the code before the round."""


def render_goals(rows: list[Row], compared: list[tuple[float, int, Result, Result, Result]],
                 ref: str | None) -> str:
    """Issue 12's two goals, cell by cell, as the run measured them."""
    cpu = {(size, delay, conns): ours.cpu_ms_per_request for size, delay, conns, _, _, ours, _, _ in rows}
    lines = []
    for (size, delay, conns), large in cpu.items():
        small = cpu.get(("small", delay, conns))
        if size == "large" and large and small:
            ratio = large / small
            verdict = "met" if ratio <= LARGE_OVER_SMALL_GOAL else "not met"
            lines.append(f"goal large <= {LARGE_OVER_SMALL_GOAL:g}x small CPU, {delay:g} ms, {conns} conns: "
                         f"{ratio:.2f}x ({verdict})")
    for delay, conns, _, before, ours in compared:
        if before.cpu_ms_per_request and ours.cpu_ms_per_request:
            ratio = ours.cpu_ms_per_request / before.cpu_ms_per_request
            verdict = "met" if ratio <= BASELINE_GOAL else "not met"
            lines.append(f"goal small CPU <= {BASELINE_GOAL:g}x {ref}, {delay:g} ms, {conns} conns: "
                         f"{ratio:.2f}x ({verdict})")
    return "\n".join(lines)


def _cpu(result: Result) -> str:
    return "n/a" if result.cpu_ms_per_request is None else f"{result.cpu_ms_per_request:.3f}"


def render_baseline(rows: list[tuple[float, int, Result, Result, Result]], ref: str) -> str:
    lines = [
        f"aigw serve (this checkout) against aigw serve at {ref}, same run, added over direct:",
        "",
        f"| delay | conns | {ref} rps | aigw rps | CPU ms/req {ref} / aigw | added p50 {ref} / aigw (ms) "
        f"| added p99 {ref} / aigw (ms) | errors ({ref}/aigw) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for delay, connections, direct, before, ours in rows:
        lines.append(
            f"| {delay:g} ms | {connections} | {before.rps:,.0f} | {ours.rps:,.0f} "
            f"| {_cpu(before)} / {_cpu(ours)} "
            f"| {before.p50_ms - direct.p50_ms:+.2f} / {ours.p50_ms - direct.p50_ms:+.2f} "
            f"| {before.p99_ms - direct.p99_ms:+.2f} / {ours.p99_ms - direct.p99_ms:+.2f} "
            f"| {before.errors}/{ours.errors} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
