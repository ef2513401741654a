"""Provider kinds `simulated` and `openai`: the OpenAI chat-completions wire over the pooled client.

Works with the simulated provider, vLLM, or any OpenAI-compatible endpoint. An endpoint whose path
ends in `/v1` (the usual OpenAI base URL) gets `/chat/completions` appended; a bare host gets
`/v1/chat/completions`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway_shim.upstream.base import (
    StreamChunk,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    reason_for_status,
    started,
)
from gateway_shim.upstream.http_client import HttpClient, StreamingResponse, format_headers
from gateway_shim.wire.trace_context import traceparent
from gateway_shim.wire.translate_request import converse_to_openai, edited_openai
from gateway_shim.wire.translate_response import summarize_openai
from gateway_shim.wire.translate_stream import openai_chunk


class OpenAICompatClient:
    """ProviderClient for one OpenAI-compatible endpoint."""

    def __init__(self, name: str, endpoint: str, http: HttpClient, *, api_key: str | None = None,
                 connect_timeout_s: float = 2.0, timeout_s: float = 60.0) -> None:
        self.name = name
        self.http = http
        self.origin = http.origin(endpoint, connect_timeout_s=connect_timeout_s)
        self.path = "/chat/completions" if self.origin.prefix.endswith("/v1") else "/v1/chat/completions"
        self.timeout_s = timeout_s
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "aigw"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = format_headers(headers)

    async def complete(self, request: UpstreamRequest) -> UpstreamResult:
        response = await self.http.request(self.origin, "POST", self.path, self._headers_for(request),
                                           self._body(request, stream=False), self._timeout(request))
        if response.status != 200:
            raise _error(response.status, response.body, response.header("retry-after"), self.name)
        try:
            doc = orjson.loads(response.body)
            if not isinstance(doc["choices"][0]["message"], dict):
                raise TypeError("choices[0].message is not an object")
            summary = summarize_openai(doc)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise UpstreamError("error", 200, f"{self.name}: malformed completion ({exc!r})") from None
        return UpstreamResult(summary.text, summary.input_tokens, summary.output_tokens,
                              summary.finish_reason,
                              doc, "openai", summary.scan, summary.tool_calls, summary.cache_read_tokens,
                              summary.cache_write_tokens, summary.reasoning_tokens)

    async def stream(self, request: UpstreamRequest) -> AsyncIterator[StreamChunk]:
        response = await self.http.stream(self.origin, "POST", self.path, self._headers_for(request),
                                          self._body(request, stream=True), self._timeout(request))
        if response.status != 200:
            body = await response.read()
            raise _error(response.status, body, response.header("retry-after"), self.name)
        return await started(_sse_chunks(response, self.name), self.name, response.close)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _timeout(self, request: UpstreamRequest) -> float:
        return min(request.timeout_s, self.timeout_s)

    def _headers_for(self, request: UpstreamRequest) -> bytes:
        parent = traceparent(request.trace_id)
        if parent is None:
            return self._headers
        return self._headers + f"traceparent: {parent}\r\n".encode()

    def _body(self, request: UpstreamRequest, *, stream: bool) -> bytes:
        if request.body is not None:
            if request.wire == "openai":
                body = edited_openai(request.body, request.messages, request.model, request.max_tokens,
                                     stream)
            else:
                body = converse_to_openai(request.body, request.messages, request.model, request.max_tokens,
                                          stream)
            return orjson.dumps(body)
        return self._plain_body(request, stream=stream)

    @staticmethod
    def _plain_body(request: UpstreamRequest, *, stream: bool) -> bytes:
        """A body from the request's fields alone (no client body to forward)."""
        body: dict[str, Any] = dict(request.extra) if request.extra else {}
        body["model"] = request.model
        body["messages"] = request.messages
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return orjson.dumps(body)


def _error(status: int, body: bytes, retry_after: str | None, name: str) -> UpstreamError:
    try:
        message = str(orjson.loads(body)["error"]["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = body[:200].decode("utf-8", "replace") or "no body"
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:
        wait = None
    return UpstreamError(reason_for_status(status), status, f"{name}: {message}", retry_after=wait)


async def _sse_chunks(response: StreamingResponse, name: str) -> AsyncIterator[StreamChunk]:
    """Every stream document as a chunk (the document kept whole as ``raw``), until `[DONE]`."""
    buffer = b""
    try:
        async for data in response.iter_bytes():
            buffer += data
            *events, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
            for event in events:
                for line in event.split(b"\n"):
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        return
                    yield _parse_event(payload, name)
    finally:
        response.close()
    raise UpstreamError("error", 200, f"{name}: the stream ended without [DONE]")


def _parse_event(payload: bytes, name: str) -> StreamChunk:
    try:
        doc = orjson.loads(payload)
        if "error" in doc:
            raise UpstreamError("error", 200, f"{name}: error inside the stream: {doc['error']}")
        return openai_chunk(doc)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise UpstreamError("error", 200, f"{name}: malformed stream event ({exc!r})") from None


def api_key_from_env(variable: str | None) -> str | None:
    """The bearer key named by a provider's `api_key_env`; a named but unset variable is an error."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"environment variable {variable} (api_key_env) is not set")
    return value
