"""The Bedrock Converse front door: ``POST /model/{modelId}/converse``.

Translates Converse messages (``content: [{"text": ...}]``, a separate ``system`` list,
``inferenceConfig``) into the OpenAI-style messages the core works on, and the answer back into a
Converse response, so an unmodified boto3 ``bedrock-runtime`` client can call the gateway.
The request contract may also come from Converse's own ``requestMetadata`` map.
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
from gateway_shim.types import Message, RequestContext
from gateway_shim.upstream.base import StreamChunk, UpstreamResult
from gateway_shim.wire.eventstream import encode_event, encode_exception

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
    messages: list[Message] = _system(body.get("system"))
    messages.extend(_messages(body.get("messages")))
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
        **contract(request.headers, body.get("requestMetadata")),
    )
    return ConverseCall(ctx, extra)


def _text_blocks(value: object, where: str) -> str:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_messages", f"{where} must be a non-empty array of content blocks")
    texts: list[str] = []
    for j, block in enumerate(value):
        if not isinstance(block, dict):
            raise ApiError(400, "invalid_messages", f"{where}[{j}] must be an object")
        text = block.get("text")
        if text is None:
            continue  # images, documents, tool use: not forwarded by this gateway
        if not isinstance(text, str):
            raise ApiError(400, "invalid_messages", f"{where}[{j}].text must be a string")
        texts.append(text)
    return "\n".join(texts)


def _system(value: object) -> list[Message]:
    if value is None:
        return []
    return [{"role": "system", "content": _text_blocks(value, "system")}]


def _messages(value: object) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_messages", "'messages' must be a non-empty array")
    out: list[Message] = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise ApiError(400, "invalid_messages", f"messages[{i}] must be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ApiError(400, "invalid_messages", f"messages[{i}].role must be 'user' or 'assistant'")
        out.append({"role": role, "content": _text_blocks(message.get("content"), f"messages[{i}].content")})
    return out


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
    return orjson.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": result.text}]}},
        "stopReason": STOP_REASONS.get(result.finish_reason, result.finish_reason),
        "usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens,
                  "totalTokens": result.input_tokens + result.output_tokens},
        "metrics": {"latencyMs": int(latency_ms)},
    })


class ConverseStreamEncoder:
    """ConverseStream events in AWS event-stream framing: messageStart, contentBlockDelta...,
    contentBlockStop, messageStop, metadata (usage is always sent, as Bedrock does)."""

    __slots__ = ("stopped",)
    content_type = "application/vnd.amazon.eventstream"
    always_usage = True

    def __init__(self) -> None:
        self.stopped = False

    def first(self) -> bytes:
        return encode_event("messageStart", b'{"role":"assistant"}')

    def delta(self, chunk: StreamChunk) -> bytes:
        out = b""
        if chunk.text:
            out += encode_event("contentBlockDelta",
                                orjson.dumps({"contentBlockIndex": 0, "delta": {"text": chunk.text}}))
        if chunk.finish_reason is not None:
            out += self._stop(chunk.finish_reason)
        return out

    def _stop(self, finish_reason: str) -> bytes:
        if self.stopped:
            return b""
        self.stopped = True
        reason = STOP_REASONS.get(finish_reason, finish_reason)
        return (encode_event("contentBlockStop", b'{"contentBlockIndex":0}')
                + encode_event("messageStop", orjson.dumps({"stopReason": reason})))

    def usage(self, input_tokens: int, output_tokens: int, latency_ms: float = 0.0) -> bytes:
        return self._stop("stop") + encode_event("metadata", orjson.dumps({
            "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens,
                      "totalTokens": input_tokens + output_tokens},
            "metrics": {"latencyMs": int(latency_ms)}}))

    @staticmethod
    def error(type_: str, code: str, message: str) -> bytes:
        """A modelled in-stream error: botocore raises it as an EventStreamError."""
        return encode_exception("modelStreamErrorException", orjson.dumps({"message": f"{code}: {message}"}))

    @staticmethod
    def done() -> bytes:
        return b""
