"""One simulated provider per test session (answers at once: time scale 0); faults cleared after each test."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator

import pytest

from gateway_shim.simulated_provider.server import BackgroundProvider, background_provider


@pytest.fixture(scope="session")
def provider() -> Iterator[BackgroundProvider]:
    with background_provider(seed=1234, time_scale=0.0) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "provider" in request.fixturenames:
        request.getfixturevalue("provider").app.model.faults.clear()


def control(url: str, method: str, body: object = None, query: str = "") -> tuple[int, dict]:
    """Call the provider's fault control API; returns (status, JSON body)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"{url}/_control/faults{query}", data=data, method=method,
                                 headers={"content-type": "application/json"})
    context = None
    if url.startswith("https://"):  # a loopback test server with a self-signed certificate
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
