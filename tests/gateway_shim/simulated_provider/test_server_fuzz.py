"""Malformed requests get a 4xx JSON error from the provider, never a 5xx, a hang or a dropped line."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_shim.simulated_provider.server import BackgroundProvider

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)
FIELDS = st.fixed_dictionaries({}, optional={
    "model": JSON_VALUES, "messages": JSON_VALUES, "max_tokens": JSON_VALUES, "stream": JSON_VALUES,
    "stream_options": JSON_VALUES, "inferenceConfig": JSON_VALUES, "system": JSON_VALUES,
    "error_rate": JSON_VALUES, "outage": JSON_VALUES, "duration_s": JSON_VALUES})
BODIES = st.one_of(FIELDS.map(lambda d: json.dumps(d).encode()),
                   JSON_VALUES.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64))
PATHS = st.sampled_from(["/v1/chat/completions", "/model/m/converse", "/model/m/converse-stream",
                         "/_control/faults", "/model//converse", "/nowhere"])


@pytest.fixture(scope="module")
def connection(provider: BackgroundProvider) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", provider.port, timeout=5)
    yield conn
    conn.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, body=BODIES)
def test_malformed_requests_get_clear_errors(provider: BackgroundProvider,
                                             connection: http.client.HTTPConnection, path: str,
                                             body: bytes) -> None:
    connection.request("POST", path, body=body, headers={"content-type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    provider.app.model.faults.clear()  # a valid fault body may have been accepted
    assert response.status < 500, (path, body, payload)
    if response.status >= 400:
        doc = json.loads(payload)
        assert doc.get("message") or doc["error"]["message"]
