"""The native doors (``/v1/embeddings``, ``/v1/messages``, Bedrock InvokeModel) hold the fleet's limits
as chat does: two real `aigw serve` replicas with `state.backend: redis` share the rate limits and the
budget, every request's cost is settled into Redis (streams and hang-ups included), and a Redis outage
is met as configured. With the memory backend nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import pytest

from tests.gateway_shim.server.fleet import FLEET_CONFIG, Fleet, start_fleet
from tests.gateway_shim.server.stack import Answer, GatewayProcess, ProviderProcess, call, start_gateway
from tests.helpers import RedisServer

pytestmark = pytest.mark.slow
MODEL = "budget-model"
"""The fleet policy's default target: the simulated provider serves its embeddings and InvokeModel."""
TINY_BUDGET_USD = 2.0


def embeddings(url: str, key: str, text: str = "hello") -> Answer:
    return call(f"{url}/v1/embeddings", {"model": MODEL, "input": [text, "and more"]}, key=key)


def messages(url: str, key: str, text: str = "hello") -> Answer:
    return call(f"{url}/v1/messages", {"model": MODEL, "max_tokens": 32,
                                       "messages": [{"role": "user", "content": text}]}, key=key)


def invoke_model(url: str, key: str, text: str = "hello") -> Answer:
    """The Bedrock door's InvokeModel, as boto3 sends it with a bearer token."""
    return call(f"{url}/model/{MODEL}/invoke", {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32,
                                                "messages": [{"role": "user", "content": text}]}, key=key)


def streamed_messages(url: str, key: str, text: str = "stream please") -> int:
    """A streamed Messages request with the anthropic SDK read to its end: 200, or the refusal's status."""
    with anthropic.Anthropic(api_key=key, base_url=url, max_retries=0) as client:
        try:
            with client.messages.stream(model=MODEL, max_tokens=32,
                                        messages=[{"role": "user", "content": text}]) as stream:
                stream.get_final_message()
        except anthropic.APIStatusError as refused:
            return refused.status_code
    return 200


def hang_up(url: str, key: str) -> None:
    """A streamed Messages request the client abandons after its first bytes."""
    with anthropic.Anthropic(api_key=key, base_url=url, max_retries=0) as client, \
            client.messages.stream(model=MODEL, max_tokens=32,
                                   messages=[{"role": "user", "content": "a long story"}]) as stream:
        for _ in stream:
            break


def native(fleet: Fleet, index: int, key: str) -> Answer:
    """Requests spread over the replicas and over the native doors."""
    door = (messages, embeddings, invoke_model)[index % 3]
    return door(fleet.replicas[index % len(fleet.replicas)].url, key, f"question {index}")


def _wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def _code(answer: Answer) -> str:
    body = answer.json()
    error = body.get("error")
    return str(error.get("code") if "code" in error else error.get("message", "")) if error else ""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, provider: ProviderProcess,
         redis_server: RedisServer) -> Iterator[Fleet]:
    running = start_fleet(tmp_path_factory.mktemp("native-fleet"), provider, redis_server, replicas=2)
    try:
        yield running
    finally:
        running.stop()


def shared_throughout(fleet: Fleet) -> bool:
    """No replica decided anything without Redis (the exact bound holds only for shared decisions)."""
    return all(fleet.metric(i, "aigw_state_degraded_decisions_total") == 0
               for i in range(len(fleet.replicas)))


def test_thirty_a_minute_admits_exactly_thirty_native_requests_across_two_replicas(pair: Fleet) -> None:
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda i: native(pair, i, "test-limited"), range(40)))
    ok = [a for a in answers if a.status == 200]
    limited = [a for a in answers if a.status == 429]
    assert (len(ok), len(limited)) == (30, 10), sorted(a.status for a in answers)
    assert all("rate_limited" in _code(a) for a in limited)
    assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in limited)
    # The limit is the fleet's: both replicas admitted some, and both now refuse.
    assert {i % 2 for i, a in enumerate(answers) if a.status == 200} == {0, 1}
    assert [native(pair, i, "test-limited").status for i in range(2)] == [429, 429]
    assert shared_throughout(pair)


def test_native_spend_is_settled_into_redis_and_stays_within_the_budget(pair: Fleet) -> None:
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda i: native(pair, i, "test-tiny"), range(120)))
    ok = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 429]
    assert len(ok) + len(refused) == 120, sorted({a.status for a in answers})
    assert refused and all("budget_exceeded" in _code(a) for a in refused)
    assert {i % 2 for i, a in enumerate(answers) if a.status == 200} == {0, 1}
    # What the admitted requests cost (x-aigw-cost-usd) is what Redis booked, and within the budget.
    assert _wait_for(lambda: pair.month("tiny")[1] == 0.0, 5), pair.month("tiny")
    spent, _ = pair.month("tiny")
    charged = sum(float(a.headers["x-aigw-cost-usd"]) for a in ok)
    assert spent == pytest.approx(charged, abs=1e-6)
    assert 0 < spent <= TINY_BUDGET_USD
    assert shared_throughout(pair)


def test_native_streams_whole_and_hung_up_are_settled_in_redis(pair: Fleet) -> None:
    before, _ = pair.month("acme")
    assert streamed_messages(pair.replicas[0].url, "demo-acme") == 200
    assert _wait_for(lambda: pair.month("acme")[1] == 0.0 and pair.month("acme")[0] > before, 5), \
        pair.month("acme")
    after_whole, _ = pair.month("acme")
    hang_up(pair.replicas[1].url, "demo-acme")
    assert _wait_for(lambda: pair.month("acme")[1] == 0.0 and pair.month("acme")[0] > after_whole, 10), \
        pair.month("acme")



def test_redis_down_refuse_and_local_share_apply_to_the_native_doors(
        tmp_path: Path, provider: ProviderProcess, durable_redis: RedisServer) -> None:
    refusing = start_fleet(tmp_path / "refuse", provider, durable_redis, replicas=1, on_unavailable="refuse")
    sharing = start_fleet(tmp_path / "share", provider, durable_redis, replicas=1,
                          on_unavailable="local_share")
    try:
        url, shared_url = refusing.replicas[0].url, sharing.replicas[0].url
        assert [embeddings(url, "demo-acme").status, messages(url, "demo-acme").status] == [200, 200]
        durable_redis.kill()
        refused = [embeddings(url, "demo-acme"), messages(url, "demo-acme")]
        assert [a.status for a in refused] == [503, 503]
        assert all("state_unavailable" in _code(a) for a in refused)
        assert all(int(a.headers["retry-after"]) >= 1 for a in refused)
        degraded = [embeddings(shared_url, "demo-acme"), messages(shared_url, "demo-acme")]
        assert [a.status for a in degraded] == [200, 200]
        durable_redis.start()
        assert _wait_for(lambda: refusing.metric(0, "aigw_state_shared_up") == 1.0, 5)
        assert messages(url, "demo-acme").status == 200
    finally:
        assert refusing.stop() == [0]
        assert sharing.stop() == [0]
    marked = {e["trace_id"]: e["state_degraded"] for e in [*refusing.events(), *sharing.events()]}
    assert all(marked[a.headers["x-aigw-trace-id"]] for a in [*refused, *degraded])
    assert sum(marked.values()) == 4


def test_with_the_memory_backend_the_native_doors_keep_their_limit(tmp_path: Path,
                                                                  provider: ProviderProcess) -> None:
    text = FLEET_CONFIG.read_text().split("\nstate:")[0]
    gateway: GatewayProcess = start_gateway(tmp_path, provider, gateway_id="memory-gw", config_text=text)
    try:
        answers = [embeddings(gateway.url, "test-limited") if i % 2 else messages(gateway.url, "test-limited")
                   for i in range(34)]
    finally:
        assert gateway.stop() == 0
    assert [a.status for a in answers] == [200] * 30 + [429] * 4
    events = gateway.events()
    assert len(events) == 34 and not any(e["state_degraded"] for e in events)
