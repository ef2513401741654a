"""Issue 13's stall, end to end: megabyte prompts built to make a backtracking guardrail take
minutes do not hold the gateway's event loop; another client's cheap request is answered meanwhile."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

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
