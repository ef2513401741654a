"""Parsing and encoding of the OpenAI and Converse front doors (pure, no server)."""

from __future__ import annotations

import orjson
import pytest

from gateway_shim.server.converse_api import converse_body, model_id, parse_converse
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Request
from gateway_shim.server.openai_api import SseEncoder, completion_body, parse_chat
from gateway_shim.upstream.base import StreamChunk, UpstreamResult


def _request(body: object, headers: dict[str, str] | None = None) -> Request:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Request("POST", "/v1/chat/completions", "", {"authorization": "Bearer k", **(headers or {})},
                   raw, 0.0, 1_700_000_000_000_000)


def test_chat_body_becomes_a_request_context() -> None:
    call = parse_chat(_request({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20,
        "stream": True, "stream_options": {"include_usage": True}, "temperature": 0.2,
        "metadata": {"workflow": "ai-search", "user": "u1"},
    }))
    ctx = call.ctx
    assert (ctx.api_key, ctx.model_requested, ctx.max_tokens, ctx.stream) == ("k", "gpt-4o-mini", 20, True)
    assert (ctx.workflow, ctx.user_id, ctx.received_at) == ("ai-search", "u1", 1_700_000_000_000_000)
    assert call.include_usage and call.extra == {"temperature": 0.2}


def test_openai_user_field_is_the_user_unless_the_contract_names_one() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "user": "end-user-7"}
    assert parse_chat(_request(body)).ctx.user_id == "end-user-7"
    assert parse_chat(_request(body, {"x-aigw-user": "u2"})).ctx.user_id == "u2"


@pytest.mark.parametrize(("body", "code"), [
    (b"", "invalid_json"),
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    ({"messages": []}, "invalid_messages"),
    ({"messages": "hi"}, "invalid_messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "invalid_messages"),
    ({"messages": [{"role": [], "content": "x"}]}, "invalid_messages"),  # found by the fuzz test
    ({"messages": [{"role": "user", "content": 5}]}, "invalid_messages"),
    ({"messages": [{"role": "user", "content": [{"text": 1}]}]}, "invalid_messages"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": "10"}, "invalid_max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": True}, "invalid_max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "invalid_max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "invalid_stream"),
    ({"messages": [{"role": "user", "content": "x"}], "model": 7}, "invalid_model"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "invalid_temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "metadata": "m"}, "invalid_metadata"),
])
def test_bad_chat_bodies_are_400_naming_the_field(body: object, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat(_request(body))
    assert (caught.value.status, caught.value.code) == (400, code)


def test_completion_and_sse_encoding_follow_the_openai_shapes() -> None:
    result = UpstreamResult("hello", 5, 2, "stop")
    body = orjson.loads(completion_body("t1", 1, "m", result))
    assert body["choices"][0]["message"]["content"] == "hello"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    encoder = SseEncoder("t1", 1, "m", include_usage=True)
    frames = encoder.first() + encoder.delta(StreamChunk("he"))
    assert encoder.delta(StreamChunk("", "stop")) == b"", "the finishing chunk waits for the durable event"
    frames += encoder.usage(5, 2) + SseEncoder.done()
    events = [f.removeprefix(b"data: ") for f in frames.split(b"\n\n") if f]
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert chunks[1]["choices"][0]["delta"] == {"content": "he"}
    assert chunks[2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[3]["choices"] == [] and chunks[3]["usage"]["total_tokens"] == 7
    without_usage = SseEncoder("t2", 1, "m")
    without_usage.delta(StreamChunk("he", "stop"))
    (held,) = [orjson.loads(f.removeprefix(b"data: ")) for f in without_usage.usage(5, 2).split(b"\n\n") if f]
    assert held["choices"][0]["finish_reason"] == "stop" and "usage" not in held


def test_model_id_from_path() -> None:
    assert model_id("/model/amazon.nova-lite-v1/converse") == ("amazon.nova-lite-v1", False)
    assert model_id("/model/arn%3Aaws%3Abedrock%3Aus-east-1/converse") == ("arn:aws:bedrock:us-east-1", False)
    assert model_id("/model/x/converse-stream") == ("x", True)
    assert model_id("/model//converse") is None
    assert model_id("/model/x/invoke") is None


def test_converse_body_becomes_the_policy_view_and_keeps_the_body() -> None:
    request = _request({
        "system": [{"text": "be brief"}],
        "messages": [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}],
        "inferenceConfig": {"maxTokens": 30, "temperature": 0.1, "stopSequences": ["\n"]},
        "requestMetadata": {"workflow": "ai-search"},
    })
    call = parse_converse(request, "amazon.nova-lite-v1")
    assert call.ctx.messages == [{"role": "system", "content": [{"text": "be brief"}]},
                                 {"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]
    assert (call.ctx.max_tokens, call.ctx.workflow) == (30, "ai-search")
    assert (call.ctx.wire, call.ctx.needs, call.ctx.modalities) == ("converse", (), ("text",))
    assert call.ctx.body is not None and call.ctx.body["requestMetadata"] == {"workflow": "ai-search"}
    assert call.extra == {"temperature": 0.1, "stop": ["\n"]}


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "system", "content": [{"text": "x"}]}]},
    {"messages": [{"role": "user", "content": "x"}]},
    {"messages": [{"role": "user", "content": [{"text": 1}]}]},
    {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": -1}},
    {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": []},
])
def test_bad_converse_bodies_are_400(body: object) -> None:
    with pytest.raises(ApiError) as caught:
        parse_converse(_request(body), "m")
    assert caught.value.status == 400


def test_converse_response_shape() -> None:
    body = orjson.loads(converse_body(UpstreamResult("ok", 3, 4, "length"), 12.7))
    assert body["output"]["message"]["content"] == [{"text": "ok"}]
    assert body["stopReason"] == "max_tokens"
    assert body["usage"] == {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
