"""A stream's closing frames are its acknowledgement: none reaches the client before the request's
event is durable in the spool. Chat's SSE, the Anthropic Messages door, Bedrock's
InvokeModelWithResponseStream and ConverseStream, with the official ``anthropic`` and ``boto3`` clients.

The gateway runs in-process on a real lake writer and spool (``DurableAcks``); the dispatcher's
``durable`` step, its injection point, is wrapped in a gate the test opens: while it is shut the
client must have the stream's opening frames but not its closing ones, and once it opens they come,
after the real group commit confirmed the event.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import boto3
import orjson
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import EventStreamError

from gateway_shim.config.loader import parse_config
from gateway_shim.core import Gateway
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.durable_acks import DurableAcks
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.server.runtime import tls_context
from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.registry import build_clients
from tests.gateway_shim.server.stack import TEST_CONFIG, ProviderProcess, write_certificate

pytestmark = pytest.mark.slow

MODEL = "anthropic.claude-3-5-haiku-v1"
KEY = "demo-acme"
SHUT_S = 0.5
"""How long the gate stays shut after the event was emitted: the closing frames must not come meanwhile."""


@dataclass
class Gate:
    """Wraps ``DurableAcks.confirm``: waits for the test to open, then for the real commit."""

    confirm: Callable[[], Any]
    opened: threading.Event = field(default_factory=threading.Event)
    confirmed_at: list[float] = field(default_factory=list)
    refuse: bool = False
    """Answer "not durable" (as ``on_spool_full: refuse`` does when the spool loses the event)."""

    async def __call__(self) -> bool:
        await asyncio.to_thread(self.opened.wait, 30)
        durable = bool(await self.confirm()) and not self.refuse
        self.confirmed_at.append(time.monotonic())
        return durable


@dataclass
class InProcess:
    url: str
    tls_url: str
    ca_file: Path
    emitted: list[str]
    gate: Gate


@pytest.fixture
def gateway(tmp_path: Path, provider: ProviderProcess) -> Iterator[InProcess]:
    config = parse_config(TEST_CONFIG.read_text().replace("__PROVIDER_PORT__", str(provider.port)))
    cert, key = write_certificate(tmp_path)
    loop = asyncio.new_event_loop()
    writer = LakeWriter(str(tmp_path / "lake"), "ends-gw", spool_dir=tmp_path / "spool").start()
    emitted: list[str] = []
    holder: dict[str, Any] = {}
    ready = threading.Event()

    async def start() -> None:
        acks = DurableAcks(writer)

        def emit(event: dict[str, Any]) -> None:
            acks.emit(event)
            emitted.append(event["trace_id"])

        gateway = Gateway(config, gateway_id="ends-gw", emit=emit)
        clients = build_clients(config, HttpClient())
        app = GatewayApp(config, gateway, clients, gateway_id="ends-gw", acks=acks)
        gate = Gate(app.dispatcher.durable)
        app.dispatcher.durable = gate
        server = HttpServer(app, Limits(), on_wire_error=app.wire_error, on_handler_error=app.handler_error)
        holder.update(server=server, app=app, gate=gate, port=await server.listen("127.0.0.1", 0),
                      tls_port=await server.listen("127.0.0.1", 0, tls=tls_context(cert, key)))
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()),
                              daemon=True)
    thread.start()
    assert ready.wait(20)
    yield InProcess(f"http://127.0.0.1:{holder['port']}", f"https://127.0.0.1:{holder['tls_port']}", cert,
                    emitted, holder["gate"])
    holder["gate"].opened.set()
    asyncio.run_coroutine_threadsafe(_stop(holder["server"], holder["app"]), loop).result(20)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
    assert writer.close(10)


async def _stop(server: HttpServer, app: GatewayApp) -> None:
    await server.drain(2)
    await app.native.aclose()
    for client in app.dispatcher.clients.values():
        await client.aclose()


def _held_until_durable(gateway: InProcess, stream: Callable[[list[tuple[str, float]]], None],
                        opening: str, closing: set[str]) -> list[str]:
    """Run ``stream`` (it appends (frame kind, arrival time) as the client reads them) with the gate shut;
    check the closing frames wait for the gate and the commit. Returns the kinds in order."""
    frames: list[tuple[str, float]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            stream(frames)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    before = len(gateway.emitted)
    client = threading.Thread(target=run)
    client.start()
    deadline = time.monotonic() + 20
    while len(gateway.emitted) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(gateway.emitted) > before, "the request's event was never emitted"
    time.sleep(SHUT_S)
    shut = [kind for kind, _ in frames]
    assert opening in shut, f"the opening frames should stream before the ack: {shut}"
    assert not closing & set(shut), f"closing frames sent before the event was durable: {shut}"
    gateway.gate.opened.set()
    client.join(20)
    assert not client.is_alive() and not errors, errors
    kinds = [kind for kind, _ in frames]
    assert closing <= set(kinds), kinds
    first_closing = min(at for kind, at in frames if kind in closing)
    assert gateway.gate.confirmed_at and gateway.gate.confirmed_at[-1] <= first_closing
    return kinds


def test_anthropic_message_stop_waits_for_the_durable_event(gateway: InProcess) -> None:
    def stream(frames: list[tuple[str, float]]) -> None:
        with anthropic.Anthropic(api_key=KEY, base_url=gateway.url, max_retries=0) as client, \
                client.messages.stream(model=MODEL, max_tokens=16,
                                       messages=[{"role": "user", "content": "hello"}]) as events:
            for event in events:
                frames.append((event.type, time.monotonic()))
            final = events.get_final_message()
        assert final.stop_reason is not None and final.usage.output_tokens > 0

    kinds = _held_until_durable(gateway, stream, "content_block_delta", {"message_delta", "message_stop"})
    assert kinds[-1] == "message_stop"


@pytest.fixture
def bedrock(gateway: InProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=gateway.tls_url,
                          verify=str(gateway.ca_file), config=BotoConfig(retries={"total_max_attempts": 1}))
    yield client
    client.close()


def test_bedrock_invoke_stream_last_chunk_waits_for_the_durable_event(gateway: InProcess,
                                                                      bedrock: Any) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16,
            "messages": [{"role": "user", "content": "stream please"}]}

    def stream(frames: list[tuple[str, float]]) -> None:
        response = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=orjson.dumps(body))
        for event in response["body"]:
            chunk = orjson.loads(event["chunk"]["bytes"])
            frames.append((chunk["type"], time.monotonic()))

    kinds = _held_until_durable(gateway, stream, "content_block_delta", {"message_delta", "message_stop"})
    assert kinds[-1] == "message_stop"


def test_converse_stream_message_stop_and_metadata_wait_for_the_durable_event(
        gateway: InProcess, bedrock: Any) -> None:
    def stream(frames: list[tuple[str, float]]) -> None:
        messages = [{"role": "user", "content": [{"text": "stream please"}]}]
        response = bedrock.converse_stream(modelId=MODEL, inferenceConfig={"maxTokens": 16},
                                           messages=messages)
        for event in response["stream"]:
            frames.append((next(iter(event)), time.monotonic()))

    kinds = _held_until_durable(gateway, stream, "contentBlockDelta", {"messageStop", "metadata"})
    assert kinds[-2:] == ["messageStop", "metadata"]


def test_chat_stream_finish_usage_and_done_wait_for_the_durable_event(gateway: InProcess) -> None:
    """The chunk with ``finish_reason``, the usage chunk and ``[DONE]`` wait (read as raw SSE lines)."""
    def stream(frames: list[tuple[str, float]]) -> None:
        request = urllib.request.Request(
            f"{gateway.url}/v1/chat/completions", method="POST",
            data=orjson.dumps({"model": "auto", "stream": True, "stream_options": {"include_usage": True},
                               "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}),
            headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            for line in response:
                if not line.startswith(b"data: "):
                    continue
                payload = line[6:].strip()
                if payload == b"[DONE]":
                    frames.append(("done", time.monotonic()))
                    continue
                doc = orjson.loads(payload)
                finished = any(choice.get("finish_reason") for choice in doc["choices"])
                kind = "usage" if doc.get("usage") else "finish" if finished else "delta"
                frames.append((kind, time.monotonic()))

    kinds = _held_until_durable(gateway, stream, "delta", {"finish", "usage", "done"})
    assert kinds[-3:] == ["finish", "usage", "done"]


def test_a_stream_whose_event_is_not_durable_ends_in_an_error_not_its_closing_frames(
        gateway: InProcess, bedrock: Any) -> None:
    """``on_spool_full: refuse`` and the spool lost the event: no acknowledgement, an error frame."""
    gateway.gate.refuse = True
    gateway.gate.opened.set()
    with anthropic.Anthropic(api_key=KEY, base_url=gateway.url, max_retries=0) as client, \
            client.messages.stream(model=MODEL, max_tokens=16,
                                   messages=[{"role": "user", "content": "hello"}]) as events:
        seen: list[str] = []
        with pytest.raises(anthropic.APIStatusError, match="telemetry_unavailable"):
            for event in events:
                seen.append(event.type)
    assert "content_block_delta" in seen and not {"message_delta", "message_stop"} & set(seen), seen
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16,
            "messages": [{"role": "user", "content": "stream please"}]}
    response = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=orjson.dumps(body))
    chunks: list[str] = []
    try:
        with pytest.raises(EventStreamError, match="telemetry_unavailable"):
            for event in response["body"]:
                chunks.append(orjson.loads(event["chunk"]["bytes"])["type"])
    finally:
        response["body"].close()
    assert "content_block_delta" in chunks and not {"message_delta", "message_stop"} & set(chunks), chunks
