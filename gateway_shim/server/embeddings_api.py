"""The OpenAI embeddings front door: ``POST /v1/embeddings``.

To an OpenAI-compatible target the body goes unchanged (only ``model`` names the target's model, and
redacted inputs are written back). To a ``bedrock`` target each input string becomes one Titan-style
InvokeModel call (``{"inputText", "dimensions"}``) and the answers are assembled into the OpenAI
response (``encoding_format: base64`` packs float32 little-endian, as OpenAI does). What a Bedrock
embedding model cannot take (token-array inputs, other fields) is refused with 400 naming it.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any
from urllib.parse import quote

import orjson

from gateway_shim.server.doors import OPENAI_DOOR, Headers
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Connection, Request
from gateway_shim.server.native_calls import (
    Answer,
    NativeCall,
    TextSlot,
    Usage,
    int_or_none,
    required_model,
    slot_messages,
)
from gateway_shim.server.openai_api import parse_json_object
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.types import Plan, RequestContext, Target
from gateway_shim.upstream.native import NativeClient, NativeRequest, NativeStream

MAX_INPUTS = 2048
"""OpenAI's own limit on inputs per request."""
BEDROCK_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
"""What a Bedrock embedding model can carry (``user`` is the event's user id, not forwarded)."""
JSON = {"content-type": "application/json", "accept": "application/json"}


class EmbeddingsDoor:
    operation_label = "embeddings"

    def unable(self, call: NativeCall, target: Target, client: NativeClient) -> str | None:
        if client.speaks_openai:
            return None
        extra = sorted(set(call.doc) - BEDROCK_FIELDS)
        if extra:
            return f"field {extra[0]!r} cannot be carried to a Bedrock embedding model"
        if not all(isinstance(item, str) for item in _inputs(call.doc)):
            return "field 'input' holds token arrays; a Bedrock embedding model takes text"
        return None

    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None:
        OPENAI_DOOR.error(conn, status, type_, code, message, headers)

    async def call(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                   timeout_s: float) -> Answer:
        if not client.speaks_openai:
            return await self._bedrock(call, target, client, timeout_s)
        doc = {**call.doc, "model": target.model}
        response = await client.send(NativeRequest("POST", "/v1/embeddings", orjson.dumps(doc), timeout_s,
                                                   JSON, call.ctx.trace_id))
        usage = Usage()
        if response.status == 200:
            try:
                reported = orjson.loads(response.body).get("usage") or {}
            except (orjson.JSONDecodeError, AttributeError):
                reported = {}
            usage = Usage(int_or_none(reported.get("prompt_tokens")), 0)
        content_type = response.header("content-type") or "application/json"
        return Answer(response.status, [], response.body, content_type, usage)

    async def _bedrock(self, call: NativeCall, target: Target, client: NativeClient,
                       timeout_s: float) -> Answer:
        dimensions = call.doc.get("dimensions")
        path = f"/model/{quote(target.model, safe='')}/invoke"

        async def one(text: str) -> tuple[int, Any]:
            body: dict[str, Any] = {"inputText": text}
            if dimensions is not None:
                body["dimensions"] = dimensions
            response = await client.send(NativeRequest("POST", path, orjson.dumps(body), timeout_s, JSON,
                                                       call.ctx.trace_id))
            if response.status != 200:
                return response.status, response.body
            return 200, orjson.loads(response.body)

        results = await asyncio.gather(*(one(text) for text in _inputs(call.doc)))
        for status, failed in results:
            if status != 200:  # the provider refused an input: its verdict, in the OpenAI shape
                message = failed[:300].decode("utf-8", "replace")
                body = orjson.dumps({"error": {"type": "invalid_request_error", "code": "upstream_rejected",
                                               "message": f"{target.key}: {message}"}})
                return Answer(status, [], body, "application/json", Usage())
        base64_out = call.doc.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, (_, doc) in enumerate(results):
            vector = doc.get("embedding") or []
            tokens += int(doc.get("inputTextTokenCount") or 0)
            encoded: Any = (base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                            if base64_out else vector)
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        body = orjson.dumps({"object": "list", "data": data, "model": target.model,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        return Answer(200, [], body, "application/json", Usage(tokens, 0))

    async def open_stream(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                          timeout_s: float) -> tuple[NativeStream, Any] | Answer:
        raise ApiError(400, "invalid_request", "embeddings are never streamed")


def _inputs(doc: dict[str, Any]) -> list[Any]:
    value = doc.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]  # one input given as a token array
    return list(value) if isinstance(value, list) else []


def parse_embeddings(request: Request) -> NativeCall:
    doc = parse_json_object(request.body)
    model = required_model(doc, "an embedding model")
    value = doc.get("input")
    inputs = _inputs(doc)
    if value is None or not inputs:
        raise ApiError(400, "invalid_input", "'input' must be a non-empty string or array")
    if len(inputs) > MAX_INPUTS:
        raise ApiError(400, "invalid_input", f"'input' holds {len(inputs)} items; the limit is {MAX_INPUTS}")
    slots: list[TextSlot] = []
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            slots.append(TextSlot(doc, "input") if isinstance(value, str) else TextSlot(value, i))
        elif not (isinstance(item, list) and item and all(isinstance(t, int) for t in item)):
            raise ApiError(400, "invalid_input", f"input[{i}] must be a string or an array of token ids")
    if doc.get("encoding_format") not in (None, "float", "base64"):
        raise ApiError(400, "invalid_encoding_format", "'encoding_format' must be 'float' or 'base64'")
    user = doc.get("user")
    fields = contract(request.headers, None)
    if isinstance(user, str) and user and "user_id" not in fields:
        fields["user_id"] = user[:256]
    ctx = RequestContext(api_key=bearer_key(request.headers), messages=slot_messages(slots),
                         received_at=request.received_us, trace_id=trace_id(request.headers),
                         model_requested=model[:256], body_bytes=len(request.body), operation="embeddings",
                         **fields)
    return NativeCall(ctx, EmbeddingsDoor(), doc, slots, request.body)
