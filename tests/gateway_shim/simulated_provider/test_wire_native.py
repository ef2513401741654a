"""The simulated provider's native wires, as pure functions: embeddings, Anthropic-on-Bedrock bodies,
CountTokens and ApplyGuardrail."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from gateway_shim.simulated_provider import wire_native
from gateway_shim.simulated_provider.wire_openai import BadRequest


def test_embeddings_are_deterministic_unit_vectors_in_either_encoding() -> None:
    floats = orjson.loads(wire_native.openai_embeddings(
        {"model": "m", "input": ["a", "b"], "dimensions": 4}, 1))
    packed = orjson.loads(wire_native.openai_embeddings(
        {"model": "m", "input": ["a", "b"], "dimensions": 4, "encoding_format": "base64"}, 1))
    first = floats["data"][0]["embedding"]
    assert len(first) == 4 and sum(v * v for v in first) == pytest.approx(1.0, abs=1e-5)
    decoded = struct.unpack("<4f", base64.b64decode(packed["data"][0]["embedding"]))
    assert decoded == pytest.approx(first, abs=1e-6)
    assert floats["data"][0]["embedding"] != floats["data"][1]["embedding"]
    assert floats["usage"]["prompt_tokens"] > 0
    with pytest.raises(BadRequest, match="dimensions"):
        wire_native.openai_embeddings({"input": "a", "dimensions": 0}, 1)


def test_anthropic_bodies_are_checked_as_bedrock_does() -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "system": "s",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert wire_native.anthropic_prompt(body) == ("system:s\nuser:hi", 2, 5)
    with pytest.raises(BadRequest, match="model"):
        wire_native.anthropic_prompt({**body, "model": "x"})
    with pytest.raises(BadRequest, match="anthropic_version"):
        wire_native.anthropic_prompt({**body, "anthropic_version": "2023-06-01"})
    tools = {**body, "tools": [{"name": "lookup", "input_schema": {}}]}
    assert wire_native.wants_tool(tools) == "lookup"
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    answered = {**tools, "messages": [*body["messages"], result]}
    assert wire_native.wants_tool(answered) is None


def test_count_tokens_and_apply_guardrail() -> None:
    invoke_body = base64.b64encode(orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1,
                                                 "messages": [{"role": "user", "content": "hi"}]})).decode()
    invoke = {"input": {"invokeModel": {"body": invoke_body}}}
    assert wire_native.count_tokens_prompt(invoke) == ("user:hi", 1)
    converse = {"input": {"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}}
    assert wire_native.count_tokens_prompt(converse) == ("user:hi", 1)
    answer = orjson.loads(wire_native.guardrail_answer({"content": [{"text": {"text": "x" * 1500}}]}))
    assert answer["action"] == "NONE" and answer["usage"]["topicPolicyUnits"] == 2
