"""The OpenAI front door: ``POST /v1/chat/completions`` bodies in, chat completions (or SSE chunks) out.

The body is parsed once with orjson and checked field by field; every problem is a 400 naming the
field. Only the fields the gateway needs are read; known sampling options are forwarded upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Request
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.types import Message, RequestContext
from gateway_shim.upstream.base import StreamChunk, UpstreamResult

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_MESSAGES = 10_000
_FORWARDED: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "stop": (str, list),
    "seed": (int,),
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
}


@dataclass(slots=True)
class ChatCall:
    """What the OpenAI door parsed: the core's context plus how to answer."""

    ctx: RequestContext
    include_usage: bool
    extra: dict[str, Any] | None


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise ApiError(400, "invalid_json", "the request body is empty; expected a JSON object")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return document


def parse_chat(request: Request) -> ChatCall:
    body = parse_json_object(request.body)
    messages = _messages(body.get("messages"))
    model = body.get("model", "")
    if model is None:
        model = ""
    if not isinstance(model, str) or len(model) > 256:
        raise ApiError(400, "invalid_model", "'model' must be a string of at most 256 characters")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise ApiError(400, "invalid_stream", "'stream' must be a boolean")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise ApiError(400, "invalid_stream_options", "'stream_options' must be an object")
        include_usage = options.get("include_usage", False) is True
    max_tokens = _max_tokens(body)
    extra = _forwarded(body)
    fields = contract(request.headers, body.get("metadata"))
    user = body.get("user")
    if "user_id" not in fields and isinstance(user, str) and user:
        fields["user_id"] = user[:256]  # OpenAI's own end-user field, when the contract names none
    ctx = RequestContext(
        api_key=bearer_key(request.headers),
        messages=messages,
        received_at=request.received_us,
        trace_id=trace_id(request.headers),
        model_requested=model,
        max_tokens=max_tokens,
        stream=stream,
        body_bytes=len(request.body),
        **fields,
    )
    return ChatCall(ctx, include_usage, extra)


def _messages(value: object) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_messages", "'messages' must be a non-empty array")
    if len(value) > MAX_MESSAGES:
        raise ApiError(400, "invalid_messages", f"'messages' has more than {MAX_MESSAGES} entries")
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise ApiError(400, "invalid_messages", f"messages[{i}] must be an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise ApiError(400, "invalid_messages",
                           f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if content is None and role == "assistant":
            continue
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise ApiError(400, "invalid_messages", f"messages[{i}].content must be a string or an array")
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("text", ""), str):
                raise ApiError(400, "invalid_messages",
                               f"messages[{i}].content[{j}] must be an object with a string 'text'")
    return value


def _max_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise ApiError(400, "invalid_max_tokens", f"'{key}' must be an integer between 1 and 1000000")
        return value
    return None


def _forwarded(body: dict[str, Any]) -> dict[str, Any] | None:
    extra: dict[str, Any] | None = None
    for key, types in _FORWARDED.items():
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise ApiError(400, f"invalid_{key}", f"'{key}' has the wrong type")
        if extra is None:
            extra = {}
        extra[key] = value
    return extra


# ---- responses ----------------------------------------------------------------------------------------

def completion_body(trace: str, created: int, model: str, result: UpstreamResult) -> bytes:
    return orjson.dumps({
        "id": f"chatcmpl-{trace}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": result.text},
            "finish_reason": result.finish_reason,
            "logprobs": None,
        }],
        "usage": _usage(result.input_tokens, result.output_tokens),
    })


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}


class SseEncoder:
    """``chat.completion.chunk`` SSE frames for one streamed answer."""

    __slots__ = ("created", "id", "model")
    content_type = "text/event-stream"
    always_usage = False

    def __init__(self, trace: str, created: int, model: str) -> None:
        self.id = f"chatcmpl-{trace}"
        self.created = created
        self.model = model

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                 "model": self.model, "choices": choices}
        if usage is not None:
            chunk["usage"] = usage
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def first(self) -> bytes:
        delta = {"role": "assistant", "content": ""}
        return self._frame([{"index": 0, "delta": delta, "finish_reason": None}])

    def delta(self, chunk: StreamChunk) -> bytes:
        out = b""
        if chunk.text:
            out += self._frame([{"index": 0, "delta": {"content": chunk.text}, "finish_reason": None}])
        if chunk.finish_reason is not None:
            out += self._frame([{"index": 0, "delta": {}, "finish_reason": chunk.finish_reason}])
        return out

    def usage(self, input_tokens: int, output_tokens: int, latency_ms: float = 0.0) -> bytes:
        return self._frame([], _usage(input_tokens, output_tokens))

    @staticmethod
    def error(type_: str, code: str, message: str) -> bytes:
        payload = {"error": {"type": type_, "code": code, "message": message}}
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"
