"""The Bedrock Runtime Converse wire format as the simulated provider speaks it: request parsing,
the Converse response, the ConverseStream events, and AWS-style errors (`x-amzn-ErrorType`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.simulated_provider.simulated_model import SimResponse
from gateway_shim.simulated_provider.wire_openai import BadRequest
from gateway_shim.wire.eventstream import encode_event

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
ERROR_TYPES = {400: "ValidationException", 404: "ResourceNotFoundException", 408: "ModelTimeoutException",
               424: "ModelErrorException", 429: "ThrottlingException", 503: "ServiceUnavailableException"}


@dataclass(slots=True, frozen=True)
class ConverseRequest:
    messages: list[dict[str, Any]]
    system: list[dict[str, Any]]
    max_tokens: int | None


def parse_converse(body: bytes) -> ConverseRequest:
    try:
        doc = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest("body must be a JSON object")
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
    return ConverseRequest(messages, system, max_tokens)


def _usage(sim: SimResponse) -> dict[str, int]:
    return {"inputTokens": sim.input_tokens, "outputTokens": sim.output_tokens,
            "totalTokens": sim.input_tokens + sim.output_tokens}


def response(sim: SimResponse, latency_ms: float) -> bytes:
    return orjson.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": sim.text}]}},
        "stopReason": STOP_REASONS.get(sim.finish_reason, "end_turn"),
        "usage": _usage(sim),
        "metrics": {"latencyMs": round(latency_ms)},
    })


def message_start() -> bytes:
    return encode_event("messageStart", b'{"role":"assistant"}')


def text_delta(text: str) -> bytes:
    return encode_event("contentBlockDelta", orjson.dumps({"contentBlockIndex": 0, "delta": {"text": text}}))


def message_end(sim: SimResponse, latency_ms: float) -> bytes:
    stop = STOP_REASONS.get(sim.finish_reason, "end_turn")
    return (encode_event("contentBlockStop", b'{"contentBlockIndex":0}')
            + encode_event("messageStop", orjson.dumps({"stopReason": stop}))
            + encode_event("metadata", orjson.dumps({"usage": _usage(sim),
                                                     "metrics": {"latencyMs": round(latency_ms)}})))


def error(status: int, message: str) -> tuple[str, bytes]:
    """(x-amzn-ErrorType value, JSON body) for an error status."""
    kind = ERROR_TYPES.get(status, "InternalServerException" if status >= 500 else "ValidationException")
    return kind, orjson.dumps({"message": message})
