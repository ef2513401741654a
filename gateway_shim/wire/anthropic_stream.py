"""Reading Anthropic Messages answers as Bedrock delivers them: usage from a whole message, and the
streamed events (each an ``InvokeModelWithResponseStream`` ``chunk`` whose ``bytes`` is one
Anthropic stream event) for text, tool calls and usage.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer


@dataclass(slots=True)
class MessageTally:
    """Text, tool calls and usage seen so far in one answer (``None`` = not reported)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    tool_calls: int | None = None

    def read_usage(self, usage: object) -> None:
        if not isinstance(usage, dict):
            return
        for key, attribute in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                               ("cache_read_input_tokens", "cache_read_tokens"),
                               ("cache_creation_input_tokens", "cache_write_tokens"),
                               ("inputTokenCount", "input_tokens"), ("outputTokenCount", "output_tokens")):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, attribute, value)

    def read_message(self, doc: object) -> str:
        """A whole Anthropic message: its usage and tool calls noted, its text (and tool input) returned."""
        if not isinstance(doc, dict):
            return ""
        self.read_usage(doc.get("usage"))
        texts: list[str] = []
        content = doc.get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                self.tool_calls = (self.tool_calls or 0) + 1
                texts.append(orjson.dumps(block.get("input")).decode())
            elif isinstance(block.get("text"), str):
                texts.append(block["text"])
        return "\n".join(texts)

    def read_event(self, event: object) -> str:
        """One stream event: usage and tool calls noted, the text it adds returned."""
        if not isinstance(event, dict):
            return ""
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self.read_usage(message.get("usage"))
        elif kind == "content_block_start":
            block = event.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self.tool_calls = (self.tool_calls or 0) + 1
        elif kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict):
                text = delta.get("text", delta.get("partial_json"))
                return text if isinstance(text, str) else ""
        elif kind == "message_delta":
            self.read_usage(event.get("usage"))
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self.read_usage(metrics)
        return ""


class ChunkReader:
    """Bedrock response-stream bytes in, decoded (event type, JSON payload) out, frame by frame."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._raw = b""

    def feed(self, data: bytes) -> Iterator[tuple[str, Any]]:
        """``("chunk", <the Anthropic/model event>)`` per chunk; ``(<exception type>, payload)`` per
        modelled error."""
        for _, kind, payload in self.frames(data):
            yield kind, payload

    def frames(self, data: bytes) -> Iterator[tuple[bytes, str, Any]]:
        """``feed`` with each frame's own bytes first (a relay can pass them on, or hold them)."""
        self._raw += data
        self._buffer.add_data(data)
        for message in self._buffer:
            size = message.prelude.total_length
            raw, self._raw = self._raw[:size], self._raw[size:]
            headers = message.headers
            kind = headers.get(":event-type") or headers.get(":exception-type") or ""
            try:
                payload = orjson.loads(message.payload) if message.payload else {}
            except orjson.JSONDecodeError:
                payload = {}
            if kind == "chunk" and isinstance(payload, dict) and isinstance(payload.get("bytes"), str):
                try:
                    payload = orjson.loads(base64.b64decode(payload["bytes"]))
                except (ValueError, orjson.JSONDecodeError):
                    payload = {}
            yield raw, str(kind), payload


def completes_message(event: object) -> bool:
    """Whether a streamed model event is one of an answer's closing events: Anthropic's
    ``message_delta`` (stop reason, final usage) and ``message_stop``, or any model's last chunk, the one
    Bedrock adds ``amazon-bedrock-invocationMetrics`` to."""
    return isinstance(event, dict) and (event.get("type") in ("message_delta", "message_stop")
                                        or "amazon-bedrock-invocationMetrics" in event)
