"""How each front door writes an answer: OpenAI JSON/SSE or Bedrock Converse JSON.

The request lifecycle (`dispatch.py`) is the same for both doors; only the encoding differs.
"""

from __future__ import annotations

import time
from typing import Protocol

from gateway_shim.server.converse_api import ConverseStreamEncoder, converse_body
from gateway_shim.server.errors import AWS_ERROR_CODES, converse_error_json, error_json
from gateway_shim.server.http import Connection
from gateway_shim.server.openai_api import SseEncoder, completion_body
from gateway_shim.upstream.base import StreamChunk, UpstreamResult

Headers = list[tuple[str, str]]


class StreamEncoder(Protocol):
    """Frames of one streamed answer (OpenAI SSE or Converse event stream)."""

    content_type: str

    def first(self) -> bytes: ...

    def delta(self, chunk: StreamChunk) -> bytes: ...

    def usage(self, input_tokens: int, output_tokens: int, latency_ms: float = 0.0) -> bytes:
        """The stream's held ending (its final frames and usage), sent once the event is durable."""
        ...

    def error(self, type_: str, code: str, message: str) -> bytes: ...

    def done(self) -> bytes: ...


class ErrorWriter(Protocol):
    """What every door can do, chat or native: write an error in its API's shape."""

    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None: ...


class Door(ErrorWriter, Protocol):
    """A chat door (OpenAI or Converse): errors, whole answers and stream encoders."""

    def success(self, conn: Connection, trace: str, model: str, result: UpstreamResult,
                inference_ms: float, headers: Headers) -> None: ...

    def stream_encoder(self, trace: str, model: str, include_usage: bool) -> StreamEncoder: ...


class OpenAIDoor:
    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None:
        conn.respond(status, headers, error_json(type_, code, message))

    def success(self, conn: Connection, trace: str, model: str, result: UpstreamResult,
                inference_ms: float, headers: Headers) -> None:
        conn.respond(200, headers, completion_body(trace, int(time.time()), model, result))

    def stream_encoder(self, trace: str, model: str, include_usage: bool) -> StreamEncoder:
        return SseEncoder(trace, int(time.time()), model, include_usage)


class ConverseDoor:
    """Errors carry ``x-amzn-ErrorType`` so botocore raises a ClientError with a meaningful code."""

    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None:
        fallback = "InternalServerException" if status >= 500 else "ValidationException"
        aws_code = AWS_ERROR_CODES.get(status, fallback)
        conn.respond(status, [*headers, ("x-amzn-errortype", aws_code)],
                     converse_error_json(type_, code, message))

    def success(self, conn: Connection, trace: str, model: str, result: UpstreamResult,
                inference_ms: float, headers: Headers) -> None:
        conn.respond(200, headers, converse_body(result, inference_ms))

    def stream_encoder(self, trace: str, model: str, include_usage: bool) -> StreamEncoder:
        return ConverseStreamEncoder()


OPENAI_DOOR = OpenAIDoor()
CONVERSE_DOOR = ConverseDoor()
