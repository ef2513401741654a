"""The Anthropic Messages front door: ``POST /v1/messages`` (streamed and not), so the ``anthropic``
SDK works with ``base_url`` = the gateway.

Served by Anthropic models on ``bedrock`` (and ``simulated``) providers through InvokeModel: the
body goes as it is (``model`` and ``stream`` move into the path, ``anthropic_version:
bedrock-2023-05-31`` is added when absent, ``max_tokens`` is capped to the lane's) and the answer
is Anthropic's own message, relayed unchanged; a stream's Bedrock ``chunk`` events become the
Messages API's server-sent events. Fields Bedrock's Anthropic models do not take are refused with
400 naming the field; ``metadata.user_id`` becomes the event's ``user_id`` and is not forwarded.
Targets on ``openai`` providers cannot serve this door (their wire has no lossless mapping for
Anthropic content blocks): a chain without a target that speaks InvokeModel is refused with 400.
The API key may come as ``x-api-key`` (the SDK's default) or ``Authorization: Bearer``.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson

from gateway_shim.server.bedrock_api import RELAYED_RESPONSE_HEADERS, TallyingRelay, modalities_of
from gateway_shim.server.doors import Headers
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Connection, Request
from gateway_shim.server.native_calls import (
    Answer,
    NativeCall,
    TextSlot,
    Usage,
    collect_texts,
    int_or_none,
    required_model,
    slot_messages,
)
from gateway_shim.server.openai_api import parse_json_object
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.types import Plan, RequestContext, Target
from gateway_shim.upstream.native import NativeClient, NativeRequest, NativeResponse, NativeStream
from gateway_shim.wire.anthropic_stream import MessageTally, completes_message
from gateway_shim.wire.images import native_images

BEDROCK_VERSION = "bedrock-2023-05-31"
BEDROCK_FIELDS = frozenset({"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
                            "temperature", "top_p", "top_k", "stop_sequences", "tools", "tool_choice",
                            "thinking"})
"""The body fields of Anthropic models on Bedrock InvokeModel."""
GATEWAY_FIELDS = frozenset({"model", "stream", "metadata"})
"""Fields the door consumes: the target, streaming, and ``metadata.user_id`` (the event's user)."""
TEXT_KEYS = frozenset({"text", "content", "system"})
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}
JSON = {"content-type": "application/json", "accept": "application/json"}


def anthropic_error(status: int, message: str) -> bytes:
    kind = ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


class MessagesDoor:
    operation_label = "Anthropic Messages"

    def unable(self, call: NativeCall, target: Target, client: NativeClient) -> str | None:
        if not client.speaks_bedrock:
            return (f"provider {target.provider!r} speaks the OpenAI wire; the Messages API is served by "
                    f"Anthropic models on bedrock providers")
        extra = sorted(set(call.doc) - BEDROCK_FIELDS - GATEWAY_FIELDS)
        if extra:
            return f"field {extra[0]!r} cannot be carried to an Anthropic model on Bedrock"
        return None

    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None:
        conn.respond(status, headers, anthropic_error(status, f"{code}: {message}"))

    def request(self, call: NativeCall, target: Target, timeout_s: float) -> NativeRequest:
        body = {k: v for k, v in call.doc.items() if k not in GATEWAY_FIELDS}
        body.setdefault("anthropic_version", BEDROCK_VERSION)
        suffix = "invoke-with-response-stream" if call.ctx.stream else "invoke"
        return NativeRequest("POST", f"/model/{quote(target.model, safe='')}/{suffix}", orjson.dumps(body),
                             timeout_s, JSON, call.ctx.trace_id)

    async def call(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                   timeout_s: float) -> Answer:
        return self.answer(await client.send(self.request(call, target, timeout_s)))

    @staticmethod
    def answer(response: NativeResponse) -> Answer:
        headers = [(k, v) for k, v in response.headers if k.lower().startswith(RELAYED_RESPONSE_HEADERS)]
        if response.status != 200:
            try:
                message = str(orjson.loads(response.body).get("message") or "")
            except (orjson.JSONDecodeError, AttributeError):
                message = response.body[:300].decode("utf-8", "replace")
            return Answer(response.status, headers, anthropic_error(response.status, message),
                          "application/json", Usage())
        tally = MessageTally()
        try:
            doc = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            doc = None
        text = tally.read_message(doc)
        usage = Usage.tallied(tally)
        return Answer(200, headers, response.body, "application/json", usage, text)

    async def open_stream(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                          timeout_s: float) -> tuple[NativeStream, SseRelay] | Answer:
        opened = await client.open(self.request(call, target, timeout_s))
        if isinstance(opened, NativeResponse):
            return self.answer(opened)
        return opened, SseRelay()


class SseRelay(TallyingRelay):
    """Bedrock ``chunk`` events → the Messages API's ``event: <type>`` / ``data: <json>`` frames; the
    ``amazon-bedrock-invocationMetrics`` Bedrock adds to ``message_stop`` is read, not relayed.
    ``message_delta`` and ``message_stop`` are held until the event is durable (``HeldEnding``)."""

    content_type = "text/event-stream"

    def feed(self, data: bytes) -> tuple[bytes, str]:
        out: list[bytes] = []
        texts: list[str] = []
        ending = self.ending
        for kind, event in self.reader.feed(data):
            if kind != "chunk":
                message = str(event.get("message", "") if isinstance(event, dict) else "")
                out.append(ending.pass_or_hold(self.error(kind, message), False))
                continue
            texts.append(self.tally.read_event(event))
            if isinstance(event, dict):
                final = completes_message(event)
                event = {k: v for k, v in event.items() if k != "amazon-bedrock-invocationMetrics"}
                event_type = str(event.get("type", ""))
                frame = b"event: %s\ndata: %s\n\n" % (event_type.encode(), orjson.dumps(event))
                out.append(ending.pass_or_hold(frame, final))
        return b"".join(out), "".join(texts)

    @staticmethod
    def error(code: str, message: str) -> bytes:
        return b"event: error\ndata: %s\n\n" % anthropic_error(500, f"{code}: {message}")


def parse_messages(request: Request) -> NativeCall:
    doc = parse_json_object(request.body)
    model = required_model(doc, "a model")
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "invalid_messages", "'messages' must be a non-empty array of message objects")
    max_tokens = int_or_none(doc.get("max_tokens"))
    if max_tokens is None or max_tokens < 1:
        raise ApiError(400, "invalid_max_tokens", "'max_tokens' must be a positive integer")
    stream = doc.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "invalid_stream", "'stream' must be a boolean")
    metadata = doc.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ApiError(400, "invalid_metadata", "'metadata' must be an object")
    slots: list[TextSlot] = []
    collect_texts(doc, slots, TEXT_KEYS)
    fields = contract(request.headers, None)
    user = (metadata or {}).get("user_id")
    if isinstance(user, str) and user and "user_id" not in fields:
        fields["user_id"] = user[:256]
    api_key = bearer_key(request.headers) or request.headers.get("x-api-key") or None
    modalities = modalities_of(messages)
    ctx = RequestContext(api_key=api_key, messages=slot_messages(slots), received_at=request.received_us,
                         trace_id=trace_id(request.headers), model_requested=model[:256],
                         max_tokens=max_tokens, stream=stream, body_bytes=len(request.body), operation="chat",
                         modalities=modalities,
                         input_images=native_images(messages) if "image" in modalities else 0, **fields)
    return NativeCall(ctx, MessagesDoor(), doc, slots, request.body, max_tokens_key="max_tokens")
