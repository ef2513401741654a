"""Every admitted request is charged for what it consumed, however its stream ends.

The attack from issue 13: 100 streams with 100k-character prompts, each closed by the client after
the first chunk, against a $0.10 budget. Before, input cost nothing when the client hung up, so all
100 were admitted and $0.008 booked for about $2.50 consumed. Now each is charged its input plus
the output produced, so admissions stop at the budget. Streams cut by the shutdown drain end with
an error frame (SSE ``data: {"error"...}``, Converse ``modelStreamErrorException``) and are charged.
"""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from tests.gateway_shim.server.native_stack import AWS_ENV, CLAUDE, native_config
from tests.gateway_shim.server.stack import KEYS, TEST_CONFIG, ProviderProcess, start_gateway, start_provider
from tests.helpers import LOCALHOST

BUDGET = 0.10
PROMPT = "word " * 20_000  # 100,000 characters ≈ 25,000 tokens
INPUT_PER_TOKEN = {"anthropic.claude-3-5-haiku-v1": 0.80e-6, "amazon.nova-lite-v1": 0.06e-6,
                   "gpt-4o-mini": 0.15e-6, "slow-model": 0.10e-6}
CONCURRENCY = 8
ATTACK_CONFIG = (TEST_CONFIG.read_text()
                 .replace("max_body_bytes: 65536", "max_body_bytes: 2000000")
                 .replace("max_input_tokens: 2000", "max_input_tokens: 100000")
                 .replace("monthly_budget_usd: 1.0", f"monthly_budget_usd: {BUDGET}"))


def _open_stream(port: int, key: str, body: dict[str, object],
                 path: str = "/v1/chat/completions") -> tuple[socket.socket, bytes]:
    """Send a streaming request; return the socket and what arrived up to the first body bytes."""
    data = orjson.dumps(body)
    sock = socket.create_connection((LOCALHOST, port), timeout=20)
    head = b"POST %s HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n" % path.encode()
    sock.sendall(head + b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
                 % (key.encode(), len(data), data))
    received = b""
    while b"\r\n\r\n" not in received or received.endswith(b"\r\n\r\n"):
        piece = sock.recv(65536)
        if not piece:
            break
        received += piece
    return sock, received


def _close_early(port: int) -> int:
    """One attack request: read the status and the first chunk, then hang up. Returns the status."""
    sock, received = _open_stream(port, KEYS["tiny"], {
        "model": "auto", "stream": True, "messages": [{"role": "user", "content": PROMPT}]})
    sock.close()
    return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1") else 0


@pytest.mark.slow
def test_early_closed_streams_are_charged_input_and_output(tmp_path: Path, provider: ProviderProcess) -> None:
    gateway = start_gateway(tmp_path, provider, gateway_id="charge-gw", config_text=ATTACK_CONFIG)
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            statuses = list(pool.map(_close_early, [gateway.port] * 100))
    finally:
        assert gateway.stop() == 0
    events = [e for e in gateway.events() if e["tenant_id"] == "tiny"]
    admitted = [e for e in events if e["outcome"] != "budget_exceeded"]
    assert statuses.count(429) == len(events) - len(admitted) > 0, "the budget must stop the attack"
    spend = sum(e["estimated_cost_usd"] or 0.0 for e in events)
    worst_reservation = max(25_100 * 0.80e-6 + 512 * 4.00e-6, 0.0)
    assert spend <= BUDGET + CONCURRENCY * worst_reservation, spend
    for event in admitted:
        input_cost = event["input_tokens"] * INPUT_PER_TOKEN[event["model_name"]]
        assert event["input_tokens"] >= 20_000
        assert event["estimated_cost_usd"] >= input_cost * 0.999, event
    assert len(admitted) <= (BUDGET + CONCURRENCY * worst_reservation) / (20_000 * 0.06e-6)


def _read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    received = b""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    while time.monotonic() < deadline:
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            break
        if not piece:
            break
        received += piece
    return received


OPENAI_STREAM = ("/v1/chat/completions", {
    "model": "auto", "stream": True, "max_tokens": 512,
    "messages": [{"role": "user", "content": "a long answer please " * 50}]}, b'"code":"gateway_shutdown"')
CONVERSE_STREAM = ("/model/anthropic.claude-3-5-haiku-v1/converse-stream", {
    "messages": [{"role": "user", "content": [{"text": "a long answer please " * 50}]}],
    "inferenceConfig": {"maxTokens": 512}}, b"modelStreamErrorException")


@pytest.mark.slow
@pytest.mark.parametrize(("path", "body", "error_frame"), [OPENAI_STREAM, CONVERSE_STREAM],
                         ids=["openai-sse", "converse-stream"])
def test_streams_cut_by_the_drain_end_with_an_error_frame_and_are_charged(
        tmp_path: Path, path: str, body: dict[str, object], error_frame: bytes) -> None:
    (tmp_path / "provider").mkdir()
    real_time = start_provider(tmp_path / "provider", time_scale=1.0)  # streams last seconds
    gateway = start_gateway(tmp_path, real_time, gateway_id="drain-cut-gw", drain_timeout_s=0.5)
    try:
        sock, head = _open_stream(gateway.port, KEYS["acme"], body, path)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        gateway.process.send_signal(signal.SIGTERM)
        rest = _read_until_closed(sock, time.monotonic() + 15)
        sock.close()
        assert gateway.process.wait(timeout=30) == 0
    finally:
        gateway.stop()
        real_time.stop()
    text = head + rest
    assert error_frame in text and b"gateway_shutdown" in text, text[-500:]
    assert text.endswith(b"0\r\n\r\n"), "the chunked body must be closed properly"
    event = next(e for e in gateway.events() if e["tenant_id"] == "acme")
    assert event["error_type"] == "gateway_shutdown"
    assert event["estimated_cost_usd"] >= event["input_tokens"] * INPUT_PER_TOKEN[event["model_name"]] > 0


MESSAGES_STREAM = ("/v1/messages", {
    "model": CLAUDE, "stream": True, "max_tokens": 512,
    "messages": [{"role": "user", "content": "a long answer please " * 50}]}, b"event: error")
INVOKE_STREAM = (f"/model/{quote(CLAUDE, safe='')}/invoke-with-response-stream", {
    "anthropic_version": "bedrock-2023-05-31", "max_tokens": 512,
    "messages": [{"role": "user", "content": "a long answer please " * 50}]}, b"modelStreamErrorException")


@pytest.mark.slow
@pytest.mark.parametrize(("path", "body", "error_frame"), [MESSAGES_STREAM, INVOKE_STREAM],
                         ids=["anthropic-messages", "invoke-with-response-stream"])
def test_native_door_streams_cut_by_the_drain_end_with_an_error_frame_and_are_charged(
        tmp_path: Path, path: str, body: dict[str, object], error_frame: bytes) -> None:
    (tmp_path / "provider").mkdir()
    real_time = start_provider(tmp_path / "provider", time_scale=1.0)  # streams last seconds
    gateway = start_gateway(tmp_path, real_time, gateway_id="drain-cut-native-gw", drain_timeout_s=0.5,
                            config_text=native_config(), env=AWS_ENV)
    try:
        sock, head = _open_stream(gateway.port, KEYS["acme"], body, path)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        gateway.process.send_signal(signal.SIGTERM)
        rest = _read_until_closed(sock, time.monotonic() + 15)
        sock.close()
        assert gateway.process.wait(timeout=30) == 0
    finally:
        gateway.stop()
        real_time.stop()
    text = head + rest
    assert error_frame in text and b"gateway_shutdown" in text, text[-500:]
    assert text.endswith(b"0\r\n\r\n"), "the chunked body must be closed properly"
    event = next(e for e in gateway.events() if e["tenant_id"] == "acme")
    assert event["error_type"] == "gateway_shutdown" and event["model_name"] == CLAUDE
    assert event["estimated_cost_usd"] >= event["input_tokens"] * 0.80e-6 > 0
