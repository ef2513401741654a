"""Issue 13's stall, end to end: megabyte prompts built to make a backtracking guardrail take
minutes, or to make the linear scan work hard (digit groups, card lists), do not hold the gateway's
event loop; another client's cheap request is answered meanwhile."""

from __future__ import annotations

import asyncio
import gc
import http.client
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from gateway_shim.config.loader import parse_config
from gateway_shim.core import Gateway
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.server.runtime import GIL_SWITCH_INTERVAL_S
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.registry import build_clients
from tests.gateway_shim.server.stack import TEST_CONFIG, ProviderProcess, call, chat, start_gateway

pytestmark = pytest.mark.slow

IN_FLIGHT = 20
PROMPT = "a" * 1_000_000 + "@!"
OTHER_CLIENT_BOUND_S = 1.0
"""The goal is 50 ms at the 99th percentile on a quiet machine; this bound holds on a loaded one.
Before the fix one such prompt held the loop for minutes."""


def _config() -> str:
    text = TEST_CONFIG.read_text()
    text = text.replace("max_body_bytes: 65536", "max_body_bytes: 2000000")
    text = text.replace("max_input_tokens: 2000", "max_input_tokens: 400000")
    return text.replace(
        '    - {name: prompt-injection, regex: "(?i)ignore (all )?previous instructions"}',
        '    - {name: prompt-injection, regex: "(?i)ignore (all )?previous instructions"}\n'
        '    - {name: nested, regex: "(a+)+$"}',
    )


def test_megabyte_adversarial_prompts_do_not_stall_other_clients(
        tmp_path: Path, provider: ProviderProcess) -> None:
    gateway = start_gateway(tmp_path, provider, gateway_id="stall-gw", config_text=_config())
    waits: list[float] = []
    done = threading.Event()

    def other_client() -> None:
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            answer = call(f"{gateway.url}/v1/models", timeout=30)
            waits.append(time.monotonic() - started)
            assert answer.status == 200
            time.sleep(0.01)

    try:
        watcher = threading.Thread(target=other_client)
        watcher.start()
        time.sleep(0.2)
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = list(pool.map(
                lambda _: call(f"{gateway.url}/v1/chat/completions", chat(PROMPT, max_tokens=4), timeout=120),
                range(IN_FLIGHT)))
        done.set()
        watcher.join(timeout=60)
    finally:
        done.set()
        gateway.stop()
    assert all(answer.status == 200 for answer in answers), {a.status for a in answers}
    assert len(waits) >= 5
    assert max(waits) < OTHER_CLIENT_BOUND_S, sorted(waits)[-5:]


LOOP_BOUND_MS = 50.0
"""The goal is 20 ms per 1 MB prompt (benchmarks/guardrails.py measures it, docs/performance.md has the
figures); a test on a shared, loaded machine asserts a generous bound on the best of ``ATTEMPTS``: a
prompt that really holds the loop does so every time (before: 100-170 ms for the digit and card inputs
on an idle machine), a descheduled thread does not."""
ATTEMPTS = 3
ADVERSARIAL = {
    "e-mail attack": "a" * 1_000_000 + "@!",
    "digit groups": "1 " * 500_000,
    "card list": "4111 1111 1111 1111 " * 50_000,
    "fullwidth letters": "\uff41" * 333_333,
}


def _post(port: int, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/chat/completions", body,
                           {"content-type": "application/json", "authorization": "Bearer demo-acme"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


async def _loop_held_ms(port: int, body: bytes) -> tuple[float, int]:
    """On the gateway's loop: the largest gap between a ticker's ticks (each asks for 0.5 ms) while one
    request is answered by a client thread."""
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
    status = await asyncio.to_thread(_post, port, body)
    done = True
    await task
    return max(gaps) * 1000, status


@pytest.fixture(scope="module")
def gateway_loop(provider: ProviderProcess) -> Iterator[tuple[asyncio.AbstractEventLoop, int]]:
    """The gateway in this process (real server, core and provider clients) on a loop of its own, with
    the serve command's GIL switch interval."""
    config = parse_config(_config().replace("__PROVIDER_PORT__", str(provider.port)))
    switch = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        gateway = Gateway(config, gateway_id="loop-gw", emit=lambda event: None)
        app = GatewayApp(config, gateway, build_clients(config, HttpClient()), gateway_id="loop-gw")
        server = HttpServer(app, Limits(max_body_bytes=config.gateway.max_body_bytes),
                            on_wire_error=app.wire_error, on_handler_error=app.handler_error)
        holder.update(app=app, server=server, port=await server.listen("127.0.0.1", 0))
        ready.set()

    async def stop(server: HttpServer, app: GatewayApp) -> None:
        await server.drain(2)
        await app.native.aclose()
        for client in app.dispatcher.clients.values():
            await client.aclose()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()),
                              daemon=True)
    thread.start()
    try:
        assert ready.wait(20)
        port = holder["port"]
        assert isinstance(port, int)
        assert _post(port, orjson.dumps(chat("warm up"))) == 200
        gc.collect()
        gc.freeze()  # as the serve command does: a full collection scans only what came after start-up
        yield loop, port
    finally:
        gc.unfreeze()
        server, app = holder.get("server"), holder.get("app")
        if isinstance(server, HttpServer) and isinstance(app, GatewayApp):
            asyncio.run_coroutine_threadsafe(stop(server, app), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        sys.setswitchinterval(switch)


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_one_megabyte_adversarial_prompt_barely_holds_the_event_loop(
        gateway_loop: tuple[asyncio.AbstractEventLoop, int], name: str) -> None:
    loop, port = gateway_loop
    body = orjson.dumps(chat(ADVERSARIAL[name], max_tokens=4))
    assert len(body) > 999_000
    held: list[float] = []
    for _ in range(ATTEMPTS):
        held_ms, status = asyncio.run_coroutine_threadsafe(_loop_held_ms(port, body), loop).result(120)
        assert status in (200, 403), status  # 403: the fullwidth letters fold into the (a+)+$ pattern
        held.append(held_ms)
    assert min(held) < LOOP_BOUND_MS, f"{name}: the loop was held {sorted(held)} ms"
