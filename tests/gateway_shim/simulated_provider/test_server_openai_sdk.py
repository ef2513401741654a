"""The official openai SDK against the simulated provider: plain, streamed, faults, determinism."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from gateway_shim.simulated_provider.server import BackgroundProvider, background_provider
from gateway_shim.simulated_provider.simulated_model import SimulatedModel, openai_prompt
from tests.gateway_shim.simulated_provider.conftest import control

MESSAGES = [{"role": "user", "content": "Summarise the refund policy in two lines."}]


def _client(provider: BackgroundProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{provider.url}/v1", api_key="unused", max_retries=0, timeout=10)


def test_chat_completion(provider: BackgroundProvider) -> None:
    reply = _client(provider).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.prompt_tokens > 5
    assert reply.usage.completion_tokens == len(reply.choices[0].message.content.split()) <= 50
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_streamed_completion_with_usage_matches_the_plain_one(provider: BackgroundProvider) -> None:
    client = _client(provider)
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=80)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=80,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason


def test_stream_without_usage_option_has_no_usage_chunk(provider: BackgroundProvider) -> None:
    client = _client(provider)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_models_are_listed(provider: BackgroundProvider) -> None:
    ids = {m.id for m in _client(provider).models.list()}
    assert {"gpt-4o-mini", "anthropic.claude-3-5-haiku-v1", "mistral-7b-instruct"} <= ids


def test_bad_requests_get_400_naming_the_field(provider: BackgroundProvider) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        _client(provider).chat.completions.create(model="gpt-4o-mini", messages=[])


def test_injected_throttling_and_errors_then_clearing(provider: BackgroundProvider) -> None:
    client = _client(provider)
    assert control(provider.url, "POST", {"model": "gpt-4o-mini", "throttle_rate": 1.0})[0] == 200
    with pytest.raises(openai.RateLimitError) as throttled:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert throttled.value.response.headers["retry-after"] == "1"
    # Other models are unaffected.
    client.chat.completions.create(model="mistral-7b-instruct", messages=MESSAGES)
    control(provider.url, "POST", {"model": "gpt-4o-mini", "error_rate": 1.0, "status": 502})
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert failed.value.status_code == 502
    assert control(provider.url, "DELETE", query="?model=gpt-4o-mini") == (200, {"cleared": 1})
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content


def test_outage_as_503_and_as_dropped_connection(provider: BackgroundProvider) -> None:
    client = _client(provider)
    control(provider.url, "POST", {"model": "*", "outage": True})
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.chat.completions.create(model="anything", messages=MESSAGES)
    assert unavailable.value.status_code == 503
    control(provider.url, "POST", {"model": "*", "outage": True, "outage_mode": "connection"})
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="anything", messages=MESSAGES)


def test_fault_with_duration_expires(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "outage": True, "duration_s": 0.3})
    with pytest.raises(openai.InternalServerError):
        _client(provider).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    time.sleep(0.35)
    assert _client(provider).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices


def test_added_latency_is_real_time(provider: BackgroundProvider) -> None:
    control(provider.url, "POST", {"model": "gpt-4o-mini", "added_latency_ms": 300})
    started = time.monotonic()
    _client(provider).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert time.monotonic() - started >= 0.3


def test_control_api_lists_and_validates(provider: BackgroundProvider) -> None:
    assert control(provider.url, "POST", {"model": "a", "error_rate": 0.5, "status": 500})[0] == 200
    status, listing = control(provider.url, "GET")
    assert status == 200 and [f["model"] for f in listing["faults"]] == ["a"]
    assert listing["faults"][0]["error_rate"] == 0.5
    for bad in ({"model": "a", "error_rate": 2}, {"error_rate": 0.1}, b"{not json", {"model": "a", "x": 1}):
        status, body = control(provider.url, "POST", bad)
        assert status == 400 and body["error"]["code"] == "invalid_fault" and body["error"]["message"]
    assert control(provider.url, "DELETE") == (200, {"cleared": 1})


def test_same_seed_same_answers_across_servers() -> None:
    def answers(seed: int) -> list[tuple[str, int]]:
        with background_provider(seed=seed) as running:
            client = _client(running)
            out = []
            for i in range(3):
                r = client.chat.completions.create(model="anthropic.claude-3-5-haiku-v1",
                                                   messages=[{"role": "user", "content": f"q{i}"}])
                assert r.usage is not None
                out.append((r.choices[0].message.content or "", r.usage.completion_tokens))
            return out

    assert answers(5) == answers(5) != answers(6)


def test_time_scale_paces_the_answer() -> None:
    model = "anthropic.claude-3-7-sonnet-v1"
    text, count = openai_prompt(MESSAGES)
    # What the server will draw for this first request of its life:
    expected = SimulatedModel(seed=0).respond_to_prompt(model, text, count, None, 0.0)
    with background_provider(seed=0, time_scale=0.05) as running:
        started = time.monotonic()
        reply = _client(running).chat.completions.create(model=model, messages=MESSAGES)
        elapsed = time.monotonic() - started
    assert reply.usage is not None and reply.usage.completion_tokens == expected.output_tokens
    assert expected.total_ms * 0.05 / 1000 <= elapsed < expected.total_ms * 0.05 / 1000 + 0.5


def test_async_client_streams_concurrently(provider: BackgroundProvider) -> None:
    async def main() -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{provider.url}/v1", api_key="unused", max_retries=0,
                                    timeout=10)

        async def one(i: int) -> str:
            stream = await client.chat.completions.create(
                model="amazon.nova-lite-v1", messages=[{"role": "user", "content": f"q{i}"}], stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        try:
            return await asyncio.gather(*[one(i) for i in range(8)])
        finally:
            await client.close()

    texts = asyncio.run(main())
    assert all(texts) and len(set(texts)) == 8
