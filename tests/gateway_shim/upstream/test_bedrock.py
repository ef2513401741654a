"""The `bedrock` adapter (boto3 bedrock-runtime in a thread pool) against the simulated provider."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from gateway_shim.simulated_provider.server import BackgroundProvider
from gateway_shim.upstream.base import UpstreamError, UpstreamRequest
from gateway_shim.upstream.bedrock import BedrockClient, inference_config, to_converse
from tests.gateway_shim.simulated_provider.conftest import control
from tests.helpers import free_port

MODEL = "anthropic.claude-3-5-haiku-v1"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "are you there?"}]}]
Use = Callable[[BedrockClient], Awaitable[Any]]
REQUEST = UpstreamRequest(MODEL, MESSAGES, max_tokens=50, timeout_s=5, extra={"temperature": 0.2})


@pytest.fixture(scope="module", autouse=True)
def _dummy_credentials() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
        yield


@pytest.fixture(scope="module")
def clients(provider: BackgroundProvider) -> Iterator[dict[str, BedrockClient]]:
    """One adapter per endpoint for the module: building a boto3 client is slow."""
    made: dict[str, BedrockClient] = {}
    yield made
    for client in made.values():
        asyncio.run(client.aclose())


@pytest.fixture
def call(clients: dict[str, BedrockClient]) -> Callable[[str, Use], Any]:
    def run(endpoint: str, use: Use) -> Any:
        if endpoint not in clients:
            clients[endpoint] = BedrockClient("bedrock", region="us-east-1", endpoint_url=endpoint,
                                              connect_timeout_s=1)
        return asyncio.run(use(clients[endpoint]))

    return run


async def _collect(client: BedrockClient) -> list[Any]:
    return [chunk async for chunk in await client.stream(REQUEST)]


def test_openai_messages_become_converse_turns() -> None:
    messages, system = to_converse([*MESSAGES, {"role": "assistant", "content": "yes"}])
    assert system == [{"text": "be brief"}]
    assert messages == [{"role": "user", "content": [{"text": "hello"}, {"text": "are you there?"}]},
                        {"role": "assistant", "content": [{"text": "yes"}]}]
    assert inference_config(REQUEST) == {"maxTokens": 50, "temperature": 0.2}


def test_converse_and_converse_stream(provider: BackgroundProvider, call: Any) -> None:
    result = call(provider.url, lambda c: c.complete(REQUEST))
    chunks = call(provider.url, _collect)
    assert result.text and 0 < result.output_tokens <= 50 and result.finish_reason in ("stop", "length")
    assert "".join(c.text for c in chunks) == result.text
    finish = [c.finish_reason for c in chunks if c.finish_reason is not None]
    usage = [c.output_tokens for c in chunks if c.output_tokens is not None]
    assert (finish, usage) == ([result.finish_reason], [result.output_tokens])
    assert all(c.wire == "converse" and c.raw is not None for c in chunks)


@pytest.mark.parametrize(("fault", "reason"), [
    ({"throttle_rate": 1.0}, "throttle"),
    ({"outage": True}, "outage"),
    ({"outage": True, "outage_mode": "connection"}, "outage"),
    ({"error_rate": 1.0, "status": 500}, "error"),
])
def test_faults_map_to_reasons(provider: BackgroundProvider, call: Any, fault: dict[str, Any],
                               reason: str) -> None:
    control(provider.url, "POST", {"model": MODEL, **fault})
    for use in (lambda c: c.complete(REQUEST), lambda c: c.stream(REQUEST)):
        with pytest.raises(UpstreamError) as raised:
            call(provider.url, use)
        assert raised.value.reason == reason


def test_timeout_and_unreachable(provider: BackgroundProvider, call: Any) -> None:
    control(provider.url, "POST", {"model": MODEL, "added_latency_ms": 600})
    quick = UpstreamRequest(MODEL, MESSAGES, max_tokens=5, timeout_s=0.2)
    with pytest.raises(UpstreamError) as slow:
        call(provider.url, lambda c: c.complete(quick))
    assert slow.value.reason == "timeout"
    with pytest.raises(UpstreamError) as refused:
        call(f"http://127.0.0.1:{free_port()}", lambda c: c.complete(REQUEST))
    assert refused.value.reason == "connect"
