"""Same-target retries through a real `aigw serve`, driven by the simulated provider's fault injection:
a throttle that clears is retried on the same target after its ``Retry-After``; a target whose
connections keep dropping is retried ``max_retries`` times, then the chain falls back."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway_shim.server.native_stack import RETRY_MODEL, start_native_gateway
from tests.gateway_shim.server.stack import ProviderProcess

pytestmark = pytest.mark.slow
HEADERS = {"x-aigw-workflow": "retry-test"}


def test_retries_then_fallback_with_attempts_in_the_event(tmp_path: Path, faults: ProviderProcess) -> None:
    gateway = start_native_gateway(tmp_path, faults, gateway_id="retries")
    try:
        with openai.OpenAI(api_key="demo-acme", base_url=f"{gateway.url}/v1", max_retries=0) as client:
            def ask() -> Any:
                return client.chat.completions.with_raw_response.create(
                    model="auto", max_tokens=8, messages=[{"role": "user", "content": "retry me"}],
                    extra_headers=HEADERS)

            faults.fault(model=RETRY_MODEL, throttle_rate=1.0)
            seen = faults.requests_received(RETRY_MODEL)
            answers: list[Any] = []
            started = time.monotonic()
            caller = threading.Thread(target=lambda: answers.append(ask()))
            caller.start()
            faults.wait_for_request(RETRY_MODEL, seen)
            faults.clear_faults()  # the retry, at least Retry-After (1 s) later, finds it healthy
            caller.join(15)
            assert not caller.is_alive() and answers
            throttled = answers[0]
            assert time.monotonic() - started >= 1.0, "Retry-After: 1 is honoured"
            assert throttled.headers["x-aigw-model"] == RETRY_MODEL
            assert throttled.headers["x-aigw-fallback"] == "false"
            assert faults.requests_received(RETRY_MODEL) == seen + 2

            faults.fault(model=RETRY_MODEL, outage=True, outage_mode="connection")
            seen = faults.requests_received(RETRY_MODEL)
            dropped = ask()
            assert dropped.headers["x-aigw-model"] == "gpt-4o-mini"
            assert dropped.headers["x-aigw-fallback"] == "true"
            assert faults.requests_received(RETRY_MODEL) >= seen + 3
    finally:
        assert gateway.stop() == 0
    first, second = [(e["attempts"], e["fallback_used"], e["fallback_reason"], e["model_name"])
                     for e in gateway.events()]
    assert first == (2, False, "throttle", RETRY_MODEL)
    assert second == (4, True, "outage", "gpt-4o-mini")
