"""The Bedrock Converse front door: ``POST /model/{modelId}/converse`` (and ``/converse-stream``).

The body is parsed once; its messages go to the core in the *policy view* (the ``system`` blocks
first as a ``system`` entry, then the Converse messages with their content blocks as they are), so
the guardrails scan and redact text and tool results alike, and the whole body goes upstream:
unchanged but for the policy edits to a Bedrock target, translated to an OpenAI-compatible one.
What each field becomes is declared in ``gateway_shim/wire/converse_fields.py``. The request
contract may also come from Converse's own ``requestMetadata`` map. An unmodified boto3
``bedrock-runtime`` client can call the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Request
from gateway_shim.server.openai_api import parse_json_object
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.server.stream_endings import HeldEnding
from gateway_shim.types import Message, RequestContext
from gateway_shim.upstream.base import StreamChunk, UpstreamResult
from gateway_shim.wire.converse_fields import block_needs, request_needs
from gateway_shim.wire.eventstream import encode_event, encode_exception
from gateway_shim.wire.images import converse_images
from gateway_shim.wire.translate_response import json_default, openai_to_converse_response
from gateway_shim.wire.translate_stream import OpenAIToConverse

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "content_filtered"}


@dataclass(slots=True)
class ConverseCall:
    ctx: RequestContext
    extra: dict[str, Any] | None


def model_id(path: str) -> tuple[str, bool] | None:
    """``/model/{modelId}/converse`` or ``.../converse-stream`` -> (URL-decoded model id, streamed);
    None for any other path."""
    if not path.startswith("/model/"):
        return None
    for suffix, streamed in (("/converse", False), ("/converse-stream", True)):
        if path.endswith(suffix):
            raw = path[len("/model/"):-len(suffix)]
            return (unquote(raw), streamed) if raw else None
    return None


def parse_converse(request: Request, model: str, stream: bool = False) -> ConverseCall:
    body = parse_json_object(request.body)
    needs: list[str] = []
    unknown = request_needs(body, needs)
    if unknown is not None:
        raise ApiError(400, "unknown_field",
                       f"{unknown!r} is not a Converse request field (the bedrock-runtime service model "
                       f"has no such member)")
    system = _system(body.get("system"))
    conversation = _messages(body.get("messages"))
    modalities = block_needs(conversation, system, needs)
    messages: list[Message] = [{"role": "system", "content": system}] if system else []
    messages.extend(conversation)
    max_tokens, extra = _inference_config(body.get("inferenceConfig"))
    ctx = RequestContext(
        api_key=bearer_key(request.headers),
        messages=messages,
        received_at=request.received_us,
        trace_id=trace_id(request.headers),
        model_requested=model[:256],
        max_tokens=max_tokens,
        stream=stream,
        body_bytes=len(request.body),
        modalities=modalities,
        needs=tuple(dict.fromkeys(needs)) if needs else (),
        body=body,
        wire="converse",
        input_images=converse_images(conversation) if "image" in modalities else 0,
        **contract(request.headers, body.get("requestMetadata")),
    )
    return ConverseCall(ctx, extra)


def _blocks(value: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_messages", f"{where} must be a non-empty array of content blocks")
    for j, block in enumerate(value):
        if not isinstance(block, dict) or not block:
            raise ApiError(400, "invalid_messages", f"{where}[{j}] must be a non-empty object")
        text = block.get("text")
        if text is not None and not isinstance(text, str):
            raise ApiError(400, "invalid_messages", f"{where}[{j}].text must be a string")
    return value


def _system(value: object) -> list[dict[str, Any]]:
    if value is None or value == []:
        return []
    return _blocks(value, "system")


def _messages(value: object) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_messages", "'messages' must be a non-empty array")
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise ApiError(400, "invalid_messages", f"messages[{i}] must be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ApiError(400, "invalid_messages", f"messages[{i}].role must be 'user' or 'assistant'")
        _blocks(message.get("content"), f"messages[{i}].content")
    return value


def _inference_config(value: object) -> tuple[int | None, dict[str, Any] | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_inference_config", "'inferenceConfig' must be an object")
    max_tokens = value.get("maxTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or not 1 <= max_tokens <= 1_000_000):
        raise ApiError(400, "invalid_max_tokens", "'inferenceConfig.maxTokens' must be an integer >= 1")
    extra: dict[str, Any] = {}
    for source, target in (("temperature", "temperature"), ("topP", "top_p")):
        number = value.get(source)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ApiError(400, "invalid_inference_config", f"'inferenceConfig.{source}' must be a number")
        extra[target] = number
    stops = value.get("stopSequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise ApiError(400, "invalid_inference_config",
                           "'inferenceConfig.stopSequences' must be an array of strings")
        extra["stop"] = stops
    return max_tokens, extra or None


def converse_body(result: UpstreamResult, latency_ms: float) -> bytes:
    """The answer as a Converse response: a Converse provider's own document unchanged, an OpenAI
    provider's translated, a plain result framed here."""
    if result.raw is not None:
        if result.wire == "converse":
            return orjson.dumps(result.raw, default=json_default)
        return orjson.dumps(openai_to_converse_response(result.raw, latency_ms))
    return orjson.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": result.text}]}},
        "stopReason": STOP_REASONS.get(result.finish_reason, result.finish_reason),
        "usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens,
                  "totalTokens": result.input_tokens + result.output_tokens},
        "metrics": {"latencyMs": int(latency_ms)},
    })


class ConverseStreamEncoder:
    """ConverseStream events in AWS event-stream framing: a Converse provider's own events as they came,
    an OpenAI provider's chunks translated, plain text chunks framed here (messageStart,
    contentBlockDelta..., contentBlockStop, messageStop, metadata). Usage is always sent, as Bedrock does.
    ``messageStop`` and ``metadata`` (and anything after them) are held until ``usage``, which the
    dispatcher calls once the request's event is durable (``HeldEnding``)."""

    __slots__ = ("_openai", "ending", "opened", "sent_usage", "stopped")
    content_type = "application/vnd.amazon.eventstream"

    def __init__(self) -> None:
        self.opened = False
        self.stopped = False
        self.sent_usage = False
        self._openai: OpenAIToConverse | None = None
        self.ending = HeldEnding()

    def first(self) -> bytes:
        """Nothing yet: the provider's first event (or ``delta``) opens the stream."""
        return b""

    def delta(self, chunk: StreamChunk) -> bytes:
        if chunk.raw is not None and chunk.wire == "converse":
            kind, payload = next(iter(chunk.raw.items()))
            return self._event(kind, payload)
        if chunk.raw is not None and chunk.wire == "openai":
            if self._openai is None:
                self._openai = OpenAIToConverse()
            return b"".join(self._event(kind, payload) for kind, payload in self._openai.events(chunk.raw))
        out = b""
        if not self.opened:
            out += self._event("messageStart", {"role": "assistant"})
        if chunk.text:
            out += self._event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": chunk.text}})
        if chunk.finish_reason is not None:
            out += self._stop(chunk.finish_reason)
        return out

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        self.opened = True
        if kind == "messageStop":
            if self.stopped:
                return b""
            self.stopped = True
        elif kind == "metadata":
            self.sent_usage = True
        frame = encode_event(kind, orjson.dumps(payload, default=json_default))
        return self.ending.pass_or_hold(frame, kind in ("messageStop", "metadata"))

    def _stop(self, finish_reason: str) -> bytes:
        if self.stopped:
            return b""
        reason = STOP_REASONS.get(finish_reason, finish_reason)
        return (self._event("contentBlockStop", {"contentBlockIndex": 0})
                + self._event("messageStop", {"stopReason": reason}))

    def usage(self, input_tokens: int, output_tokens: int, latency_ms: float = 0.0) -> bytes:
        """The held ending: the provider's messageStop and metadata, or ours where it sent none."""
        if not self.sent_usage:
            self._stop("stop")
            self._event("metadata", {
                "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens,
                          "totalTokens": input_tokens + output_tokens},
                "metrics": {"latencyMs": int(latency_ms)}})
        return self.ending.release()

    @staticmethod
    def error(type_: str, code: str, message: str) -> bytes:
        """A modelled in-stream error: botocore raises it as an EventStreamError."""
        return encode_exception("modelStreamErrorException", orjson.dumps({"message": f"{code}: {message}"}))

    @staticmethod
    def done() -> bytes:
        return b""
