"""Bad input never hurts: thousands of malformed requests, each answered with a 4xx JSON error.

Property: whatever the path, headers and body, the gateway answers (no hang), never with a 5xx of
its own, every refusal is the OpenAI-style error object, and the gateway stays healthy.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway_shim.server.stack import GatewayProcess, call

pytestmark = pytest.mark.slow

def _dumps(value: object) -> bytes:
    """stdlib json: it writes integers of any size and Infinity, both of which the gateway must refuse."""
    return json.dumps(value).encode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = JSON | st.text(max_size=30) | st.integers(min_value=-(2**70), max_value=2**70)
MESSAGE = st.fixed_dictionaries({}, optional={"role": st.sampled_from(["user", "system", "bot", 5]) | JSON,
                                              "content": JSON})
CHAT_BODY = st.fixed_dictionaries({}, optional={
    "model": FIELD_VALUES, "messages": st.lists(MESSAGE | JSON, max_size=3) | JSON,
    "max_tokens": FIELD_VALUES, "stream": FIELD_VALUES, "stream_options": FIELD_VALUES,
    "metadata": st.dictionaries(st.sampled_from(["workflow", "retrieval_ms", "user", "x"]), FIELD_VALUES)
    | JSON, "temperature": FIELD_VALUES,
})
BLOCK = st.fixed_dictionaries({}, optional={"text": FIELD_VALUES, "image": JSON})
CONVERSE_BODY = st.fixed_dictionaries({}, optional={
    "messages": st.lists(st.fixed_dictionaries({}, optional={
        "role": st.sampled_from(["user", "assistant", "system"]) | JSON,
        "content": st.lists(BLOCK | JSON, max_size=3) | JSON}) | JSON, max_size=3) | JSON,
    "system": st.lists(BLOCK, max_size=2) | JSON,
    "inferenceConfig": st.fixed_dictionaries({}, optional={
        "maxTokens": FIELD_VALUES, "temperature": FIELD_VALUES, "stopSequences": FIELD_VALUES}) | JSON,
    "requestMetadata": st.dictionaries(st.sampled_from(["workflow", "retrieval_ms", "x"]), FIELD_VALUES)
    | JSON,
})
BODY = (CHAT_BODY.map(_dumps) | CONVERSE_BODY.map(_dumps) | JSON.map(_dumps) | st.binary(max_size=300)
        | st.text(max_size=100).map(str.encode))
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=40)
HEADERS = st.dictionaries(
    st.sampled_from(["x-aigw-workflow", "x-aigw-retrieval-ms", "x-aigw-latency-class", "x-aigw-sensitivity",
                     "traceparent", "content-type", "x-odd"]), HEADER_TEXT, max_size=4)
PATHS = st.sampled_from(["/v1/chat/completions", "/model/amazon.nova-lite-v1/converse",
                         "/model/amazon.nova-lite-v1/converse-stream",
                         "/model/%ZZ/converse", "/v1/models", "/nowhere", "/v1/chat/completions?x=%00"])
KEYS = st.sampled_from([None, "wrong-key", "Bearer", "demo-acme"])


class Client:
    """One keep-alive connection, reopened when the gateway closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        for _ in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.conn.close()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        raise AssertionError("the gateway kept dropping the connection")


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> Any:
    opened = Client(gateway.port)
    yield opened
    opened.conn.close()


@settings(max_examples=2000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]), path=PATHS, headers=HEADERS,
       key=KEYS, body=BODY)
def test_malformed_requests_get_4xx_json(client: Client, method: str, path: str, headers: dict[str, str],
                                         key: str | None, body: bytes) -> None:
    all_headers = dict(headers)
    if key is not None:
        all_headers["authorization"] = f"Bearer {key}"
    status, data = client.send(method, path, all_headers, body)
    assert status < 500 or status in (502, 503, 504), data  # 5xx only when upstreams fail
    if status >= 400:
        error = orjson.loads(data)["error"]
        assert isinstance(error["type"], str) and isinstance(error["code"], str) and error["message"]


def test_gateway_is_healthy_after_the_fuzzing(gateway: GatewayProcess) -> None:
    assert call(f"{gateway.url}/healthz").status == 200
    assert "aigw_handler_errors_total 0" in gateway.metrics()
