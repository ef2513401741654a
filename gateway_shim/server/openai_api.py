"""The OpenAI front door: ``POST /v1/chat/completions`` bodies in, chat completions (or SSE chunks) out.

The body is parsed once with orjson; the fields the gateway uses are checked (every problem a 400
naming the field) and the whole body goes upstream: unchanged but for the policy edits to an
OpenAI-compatible target, translated to a Converse one. What each field becomes, and what the
request therefore needs of its target, is declared in ``gateway_shim/wire/openai_fields.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Request
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.server.stream_endings import HeldEnding
from gateway_shim.types import Message, RequestContext
from gateway_shim.upstream.base import StreamChunk, UpstreamResult
from gateway_shim.wire.images import openai_images
from gateway_shim.wire.json_body import NotAJsonObject, json_object
from gateway_shim.wire.openai_fields import message_needs, request_needs
from gateway_shim.wire.translate_response import converse_to_openai_response
from gateway_shim.wire.translate_stream import ConverseToOpenAI

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
    try:
        return json_object(body)
    except NotAJsonObject as exc:
        raise ApiError(400, "invalid_json", f"the request body is {exc}") from None


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
    if "user_id" not in fields:  # OpenAI's own end-user fields, when the contract names none
        for key in ("user", "safety_identifier"):
            user = body.get(key)
            if isinstance(user, str) and user:
                fields["user_id"] = user[:256]
                break
    needs: list[str] = []
    request_needs(body, needs)
    modalities = message_needs(messages, needs)
    ctx = RequestContext(
        api_key=bearer_key(request.headers),
        messages=messages,
        received_at=request.received_us,
        trace_id=trace_id(request.headers),
        model_requested=model,
        max_tokens=max_tokens,
        stream=stream,
        body_bytes=len(request.body),
        modalities=modalities,
        needs=tuple(dict.fromkeys(needs)) if needs else (),
        body=body,
        wire="openai",
        input_images=openai_images(messages) if "image" in modalities else 0,
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
    """The answer as a ``chat.completion``: an OpenAI provider's own document unchanged, a Converse
    provider's translated, a plain result framed here."""
    if result.raw is not None:
        if result.wire == "openai":
            return orjson.dumps(result.raw)
        return orjson.dumps(converse_to_openai_response(result.raw, f"chatcmpl-{trace}", created, model))
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
    """``chat.completion.chunk`` SSE frames for one streamed answer: an OpenAI provider's own
    documents as they came (the usage chunk only when the client asked for it), a Converse provider's
    events translated, a plain text chunk framed here. The chunk with a ``finish_reason`` and the usage
    chunk (and anything after them) are held until ``usage``, which the dispatcher calls once the
    request's event is durable (``HeldEnding``)."""

    __slots__ = ("_converse", "created", "ending", "id", "include_usage", "model", "opened", "sent_usage")
    content_type = "text/event-stream"

    def __init__(self, trace: str, created: int, model: str, include_usage: bool = False) -> None:
        self.id = f"chatcmpl-{trace}"
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.opened = False
        self.sent_usage = False
        self._converse: ConverseToOpenAI | None = None
        self.ending = HeldEnding()

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                 "model": self.model, "choices": choices}
        if usage is not None:
            chunk["usage"] = usage
        return self._send(chunk)

    def _send(self, chunk: dict[str, Any]) -> bytes:
        final = chunk.get("usage") is not None or any(
            choice.get("finish_reason") is not None for choice in chunk.get("choices") or ())
        return self.ending.pass_or_hold(b"data: " + orjson.dumps(chunk) + b"\n\n", final)

    def first(self) -> bytes:
        """Nothing yet: the provider's first chunk (or ``delta``) opens the stream."""
        return b""

    def delta(self, chunk: StreamChunk) -> bytes:
        if chunk.raw is not None and chunk.wire == "openai":
            return self._passed(chunk.raw)
        if chunk.raw is not None and chunk.wire == "converse":
            if self._converse is None:
                self._converse = ConverseToOpenAI(self.include_usage)
            out = b""
            for doc in self._converse.documents(chunk.raw):
                self.opened = True
                if "usage" in doc:
                    self.sent_usage = True
                    out += self._frame([], doc["usage"])
                else:
                    out += self._frame(doc["choices"])
            return out
        out = b""
        if not self.opened:
            self.opened = True
            out += self._frame([{"index": 0, "delta": {"role": "assistant", "content": ""},
                                 "finish_reason": None}])
        if chunk.text:
            out += self._frame([{"index": 0, "delta": {"content": chunk.text}, "finish_reason": None}])
        if chunk.finish_reason is not None:
            out += self._frame([{"index": 0, "delta": {}, "finish_reason": chunk.finish_reason}])
        return out

    def _passed(self, doc: dict[str, Any]) -> bytes:
        self.opened = True
        if "usage" in doc and doc["usage"] is not None:
            if not self.include_usage:
                if not doc.get("choices"):
                    return b""
                doc = {k: v for k, v in doc.items() if k != "usage"}
            else:
                self.sent_usage = True
        return self._send(doc)

    def usage(self, input_tokens: int, output_tokens: int, latency_ms: float = 0.0) -> bytes:
        """The held ending, with the usage chunk if the client asked for it and the provider sent none."""
        if self.include_usage and not self.sent_usage:
            self._frame([], _usage(input_tokens, output_tokens))
        return self.ending.release()

    @staticmethod
    def error(type_: str, code: str, message: str) -> bytes:
        payload = {"error": {"type": type_, "code": code, "message": message}}
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"
