"""The Bedrock Runtime Converse wire format as the simulated provider speaks it: request parsing,
the Converse response, the ConverseStream events, and AWS-style errors (`x-amzn-ErrorType`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.simulated_provider.answers import (
    CACHE_BLOCK,
    CACHE_MIN_TOKENS,
    Answer,
    Features,
    converse_features,
)
from gateway_shim.simulated_provider.simulated_model import SimResponse
from gateway_shim.simulated_provider.wire_openai import BadRequest, request_object
from gateway_shim.wire.eventstream import encode_event

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
ERROR_TYPES = {400: "ValidationException", 404: "ResourceNotFoundException", 408: "ModelTimeoutException",
               424: "ModelErrorException", 429: "ThrottlingException", 503: "ServiceUnavailableException"}


@dataclass(slots=True, frozen=True)
class ConverseRequest:
    messages: list[dict[str, Any]]
    system: list[dict[str, Any]]
    max_tokens: int | None
    features: Features
    metadata: dict[str, str]
    """``requestMetadata``'s string pairs, which Bedrock writes into the call's invocation-log record."""


def parse_converse(body: bytes) -> ConverseRequest:
    doc = request_object(body)
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("messages must be a non-empty list of messages")
    system = doc.get("system") or []
    if not isinstance(system, list) or not all(isinstance(s, dict) for s in system):
        raise BadRequest("system must be a list of content blocks")
    config = doc.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise BadRequest("inferenceConfig must be an object")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise BadRequest("inferenceConfig.maxTokens must be a positive integer")
    metadata = doc.get("requestMetadata")
    pairs = ({str(k): v for k, v in metadata.items() if isinstance(v, str)}
             if isinstance(metadata, dict) else {})
    return ConverseRequest(messages, system, max_tokens, converse_features(doc), pairs)


def usage(sim: SimResponse, answer: Answer, features: Features) -> dict[str, int]:
    """Converse counts cached input apart: ``inputTokens`` is what was neither read from nor written to
    the cache. A cachable prompt that missed the cache is written to it."""
    read = answer.cached_tokens
    write = 0
    if features.caching and not read and sim.input_tokens >= CACHE_MIN_TOKENS:
        write = (sim.input_tokens * 3 // 4) // CACHE_BLOCK * CACHE_BLOCK
    usage = {"inputTokens": sim.input_tokens - read - write, "outputTokens": answer.output_tokens,
             "totalTokens": sim.input_tokens + answer.output_tokens}
    if features.caching:
        usage["cacheReadInputTokens"] = read
        usage["cacheWriteInputTokens"] = write
    return usage


def response(answer: Answer, usage: dict[str, int], latency_ms: float) -> bytes:
    if answer.tool_name is not None:
        use = {"toolUseId": answer.tool_call_id, "name": answer.tool_name,
               "input": orjson.loads(answer.tool_arguments or "{}")}
        content: list[dict[str, Any]] = [{"toolUse": use}]
    else:
        content = [{"text": answer.text}]
    return orjson.dumps({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": STOP_REASONS.get(answer.finish_reason, "end_turn"),
        "usage": usage,
        "metrics": {"latencyMs": round(latency_ms)},
    })


def message_start() -> bytes:
    return encode_event("messageStart", b'{"role":"assistant"}')


def text_delta(text: str) -> bytes:
    return encode_event("contentBlockDelta", orjson.dumps({"contentBlockIndex": 0, "delta": {"text": text}}))


def tool_start(answer: Answer) -> bytes:
    return encode_event("contentBlockStart", orjson.dumps({"contentBlockIndex": 0, "start": {"toolUse": {
        "toolUseId": answer.tool_call_id, "name": answer.tool_name}}}))


def tool_delta(fragment: str) -> bytes:
    return encode_event("contentBlockDelta", orjson.dumps({"contentBlockIndex": 0,
                                                           "delta": {"toolUse": {"input": fragment}}}))


def message_end(answer: Answer, usage: dict[str, int], latency_ms: float) -> bytes:
    stop = STOP_REASONS.get(answer.finish_reason, "end_turn")
    return (encode_event("contentBlockStop", b'{"contentBlockIndex":0}')
            + encode_event("messageStop", orjson.dumps({"stopReason": stop}))
            + encode_event("metadata", orjson.dumps({"usage": usage,
                                                     "metrics": {"latencyMs": round(latency_ms)}})))


def error(status: int, message: str) -> tuple[str, bytes]:
    """(x-amzn-ErrorType value, JSON body) for an error status."""
    kind = ERROR_TYPES.get(status, "InternalServerException" if status >= 500 else "ValidationException")
    return kind, orjson.dumps({"message": message})
