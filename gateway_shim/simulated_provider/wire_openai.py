"""The OpenAI chat-completions wire format as the simulated provider speaks it: request parsing with
named errors, and the response, stream-chunk and error bodies."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.simulated_provider.answers import Answer, Features, openai_features
from gateway_shim.simulated_provider.simulated_model import SimResponse
from gateway_shim.wire.json_body import NotAJsonObject, json_object


class BadRequest(ValueError):
    """A request the provider refuses with 400; the message names the field."""


def request_object(body: bytes) -> dict[str, Any]:
    try:
        return json_object(body)
    except NotAJsonObject as exc:
        raise BadRequest(f"body is {exc}") from None


@dataclass(slots=True, frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None
    stream: bool
    include_usage: bool
    features: Features


def parse_chat(body: bytes) -> ChatRequest:
    doc = request_object(body)
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a non-empty string")
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("'messages' must be a non-empty array of message objects")
    max_tokens = doc.get("max_completion_tokens", doc.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise BadRequest("'max_tokens' must be a positive integer")
    stream = doc.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean")
    options = doc.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object")
    return ChatRequest(model, messages, max_tokens, stream, bool(options.get("include_usage", False)),
                       openai_features(doc))


def completion_id(sim: SimResponse) -> str:
    return f"chatcmpl-sim{sim.digest:016x}"


def usage(sim: SimResponse, answer: Answer) -> dict[str, Any]:
    return {"prompt_tokens": sim.input_tokens, "completion_tokens": answer.output_tokens,
            "total_tokens": sim.input_tokens + answer.output_tokens,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def tool_call(answer: Answer, arguments: str | None = None) -> dict[str, Any]:
    return {"id": answer.tool_call_id, "type": "function",
            "function": {"name": answer.tool_name,
                         "arguments": answer.tool_arguments if arguments is None else arguments}}


def completion(sim: SimResponse, answer: Answer) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None, "refusal": None}
    if answer.tool_name is not None:
        message["tool_calls"] = [tool_call(answer)]
    return orjson.dumps({
        "id": completion_id(sim), "object": "chat.completion", "created": int(time.time()),
        "model": sim.model, "system_fingerprint": "fp_aigw_sim",
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason,
                     "logprobs": None}],
        "usage": usage(sim, answer),
    })


def chunk(sim: SimResponse, created: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    """One SSE event: `data: {...}` and a blank line."""
    body = {"id": completion_id(sim), "object": "chat.completion.chunk", "created": created,
            "model": sim.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def usage_chunk(sim: SimResponse, answer: Answer, created: int) -> bytes:
    body = {"id": completion_id(sim), "object": "chat.completion.chunk", "created": created,
            "model": sim.model, "choices": [], "usage": usage(sim, answer)}
    return b"data: " + orjson.dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"

_ERROR_TYPES = {400: ("invalid_request_error", "invalid_request"),
                404: ("invalid_request_error", "not_found"),
                429: ("rate_limit_error", "rate_limit_exceeded"), 503: ("service_unavailable", "overloaded")}


def error(status: int, message: str) -> bytes:
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                           f"status_{status}"))
    return orjson.dumps({"error": {"type": kind, "code": code, "message": message}})


def models(ids: list[str]) -> bytes:
    return orjson.dumps({"object": "list", "data": [
        {"id": model, "object": "model", "created": 0, "owned_by": "aigw-simulated"} for model in ids]})
