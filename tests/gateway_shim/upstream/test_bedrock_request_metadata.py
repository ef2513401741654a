"""The `bedrock` adapter sends Converse `requestMetadata` with the gateway's join keys (trace id, tenant,
workflow), so Bedrock's invocation logs join the gateway's events: checked on the wire, as a local
HTTP server receives what boto3 sends."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from gateway_shim.upstream.base import UpstreamRequest
from gateway_shim.upstream.bedrock import BedrockClient, request_metadata

ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 7, "outputTokens": 1, "totalTokens": 8},
    "metrics": {"latencyMs": 3},
}


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        data = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    _Recorder.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


Recorder = tuple[str, list[dict[str, Any]]]


def test_converse_carries_the_trace_id_tenant_and_workflow(recorder: Recorder) -> None:
    endpoint, bodies = recorder
    request = UpstreamRequest("anthropic.claude-3-5-haiku-v1", [{"role": "user", "content": "hello"}],
                              max_tokens=20, timeout_s=5, trace_id="0af7651916cd43dd8448eb211c80319c",
                              tenant_id="acme", workflow="support-summary")

    async def call() -> Any:
        client = BedrockClient("bedrock", region="us-east-1", endpoint_url=endpoint, connect_timeout_s=1)
        try:
            return await client.complete(request)
        finally:
            await client.aclose()

    result = asyncio.run(call())
    assert result.text == "hi" and result.input_tokens == 7
    [sent] = bodies
    assert sent["path"] == "/model/anthropic.claude-3-5-haiku-v1/converse"
    assert sent["body"]["requestMetadata"] == {
        "aigw_trace_id": "0af7651916cd43dd8448eb211c80319c", "aigw_tenant": "acme",
        "aigw_workflow": "support-summary",
    }


@pytest.mark.parametrize(
    ("wire", "body"),
    [
        ("openai", {"model": "auto", "messages": [{"role": "user", "content": "hello"}],
                    "metadata": {"ticket": "T-1"}}),
        ("converse", {"messages": [{"role": "user", "content": [{"text": "hello"}]}],
                      "requestMetadata": {"ticket": "T-1"}}),
    ],
)
def test_a_clients_body_keeps_its_metadata_and_gains_the_join_keys(
    recorder: Recorder, wire: str, body: dict[str, Any]
) -> None:
    messages = body["messages"]
    request = UpstreamRequest("anthropic.claude-3-5-haiku-v1", messages, max_tokens=20, timeout_s=5,
                              trace_id="0af7651916cd43dd8448eb211c80319c", tenant_id="acme", workflow=None,
                              body=body, wire=wire)
    endpoint, bodies = recorder

    async def call() -> Any:
        client = BedrockClient("bedrock", region="us-east-1", endpoint_url=endpoint, connect_timeout_s=1)
        try:
            return await client.complete(request)
        finally:
            await client.aclose()

    asyncio.run(call())
    [sent] = bodies
    assert sent["body"]["requestMetadata"] == {
        "ticket": "T-1", "aigw_trace_id": "0af7651916cd43dd8448eb211c80319c", "aigw_tenant": "acme",
    }


def test_missing_keys_are_left_out_and_values_fit_bedrocks_pattern() -> None:
    request = UpstreamRequest("m", [], max_tokens=None, timeout_s=1, trace_id="t1", tenant_id="a|b<c>",
                              workflow=None)
    assert request_metadata(request) == {"aigw_trace_id": "t1", "aigw_tenant": "a_b_c_"}
    long = UpstreamRequest("m", [], max_tokens=None, timeout_s=1, tenant_id="x" * 300)
    assert request_metadata(long) == {"aigw_tenant": "x" * 256}
