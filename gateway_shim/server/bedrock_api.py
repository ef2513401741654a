"""The Bedrock front door beyond Converse: ``InvokeModel``, ``InvokeModelWithResponseStream`` and
every other ``bedrock-runtime`` operation (``CountTokens``, ``ApplyGuardrail``, the async invokes,
and operations AWS adds later), recognised from botocore's own service model.

Bodies go to a ``bedrock`` provider unchanged (re-signed with SigV4) unless policy edited them
(redaction of a text, the lane's cap on an Anthropic body's ``max_tokens``); answers come back
unchanged. The model is the path's ``modelId`` (or the body's ``modelId``, as ``StartAsyncInvoke``
has it) and is allowlisted like any other; only targets serving that model may answer. InvokeModel
is priced from the token counts Bedrock reports (``x-amzn-bedrock-*-token-count`` headers, or the
body's usage); the other operations are recorded unpriced (cost NULL, action ``unpriced:<op>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

import orjson

from gateway_shim.server.doors import CONVERSE_DOOR, Headers
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Connection, Request
from gateway_shim.server.native_calls import (
    Answer,
    NativeCall,
    TextSlot,
    Usage,
    collect_texts,
    int_or_none,
    relayed_headers,
    slot_messages,
)
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.server.stream_endings import HeldEnding
from gateway_shim.types import Plan, RequestContext, Target
from gateway_shim.upstream.native import NativeClient, NativeRequest, NativeResponse, NativeStream
from gateway_shim.wire.anthropic_stream import ChunkReader, MessageTally, completes_message
from gateway_shim.wire.eventstream import encode_exception
from gateway_shim.wire.images import native_images

TEXT_KEYS = frozenset({"text", "inputText", "prompt", "content", "system", "texts", "input"})
"""Body keys whose strings are prompt text (guardrails, redaction, the token estimate)."""
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "x-amzn-bedrock-")
RELAYED_RESPONSE_HEADERS = ("x-amzn-bedrock-", "x-amzn-requestid", "x-amzn-errortype")
SERVED_ELSEWHERE = frozenset({"Converse", "ConverseStream", "InvokeModelWithBidirectionalStream"})
"""Converse has its own door; the bidirectional stream (HTTP/2 full duplex) is not carried."""


@dataclass(slots=True, frozen=True)
class Operation:
    name: str
    """botocore's operation name, e.g. ``CountTokens``."""
    method: str
    pattern: re.Pattern[str]

    @property
    def snake(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()


@cache
def operations() -> tuple[Operation, ...]:
    """Every HTTP operation of botocore's ``bedrock-runtime`` model, loaded once on first use."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http["requestUri"]).split("?", 1)[0]
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", re.escape(uri).replace(r"\{", "{").replace(r"\}", "}"))
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        found.append(Operation(name, str(http["method"]), re.compile(f"^{regex}$")))
    return tuple(found)


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The Bedrock operation a request is for (method and path), with its URI labels (still encoded)."""
    for operation in operations():
        if operation.name in SERVED_ELSEWHERE:
            continue
        found = operation.pattern.match(path)
        if found and operation.method == method:
            return operation, found.groupdict()
    return None


def is_bedrock_path(path: str) -> bool:
    return path.startswith(("/model/", "/guardrail", "/async-invoke"))


class BedrockDoor:
    """Errors in the Bedrock shape (``x-amzn-errortype``); calls only to ``bedrock`` providers."""

    def __init__(self, operation: Operation, labels: dict[str, str], path: str, query: str,
                 headers: dict[str, str]) -> None:
        self.operation = operation
        self.labels = labels
        self.path = path
        self.query = query
        self.forward = {k: v for k, v in headers.items() if k.lower().startswith(FORWARDED_REQUEST_HEADERS)}
        self.operation_label = operation.name

    def unable(self, call: NativeCall, target: Target, client: NativeClient) -> str | None:
        if not client.speaks_bedrock:
            return (f"provider {target.provider!r} does not speak the Bedrock Runtime API "
                    f"({self.operation.name})")
        return None

    def error(self, conn: Connection, status: int, type_: str, code: str, message: str,
              headers: Headers) -> None:
        CONVERSE_DOOR.error(conn, status, type_, code, message, headers)

    def request(self, call: NativeCall, target: Target, timeout_s: float) -> NativeRequest:
        path = self.path
        if "modelId" in self.labels:
            served = f"/model/{quote(target.model, safe='')}/"
            path = path.replace(f"/model/{self.labels['modelId']}/", served, 1)
        if self.query:
            path = f"{path}?{self.query}"
        return NativeRequest(self.operation.method, path, call.body(), timeout_s, self.forward,
                             call.ctx.trace_id)

    async def call(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                   timeout_s: float) -> Answer:
        response = await client.send(self.request(call, target, timeout_s))
        return self.answer(response, call)

    def answer(self, response: NativeResponse, call: NativeCall) -> Answer:
        tally = MessageTally()
        text = ""
        doc: Any = None
        if response.status == 200 and response.body[:1] == b"{":
            try:
                doc = orjson.loads(response.body)
            except orjson.JSONDecodeError:
                doc = None
            text = tally.read_message(doc) if call.ctx.operation == "chat" else ""
            if isinstance(doc, dict):
                tally.read_usage({"input_tokens": doc.get("inputTextTokenCount", doc.get("inputTokens"))})
        tally.read_usage({"input_tokens": _header_int(response, "x-amzn-bedrock-input-token-count"),
                          "output_tokens": _header_int(response, "x-amzn-bedrock-output-token-count"),
                          "cache_read_input_tokens":
                              _header_int(response, "x-amzn-bedrock-cache-read-input-token-count"),
                          "cache_creation_input_tokens":
                              _header_int(response, "x-amzn-bedrock-cache-write-input-token-count")})
        usage = Usage.tallied(tally)
        if response.status != 200:
            usage = Usage()
        content_type = response.header("content-type") or "application/json"
        return Answer(response.status, relayed_headers(response, RELAYED_RESPONSE_HEADERS), response.body,
                      content_type, usage, text)

    async def open_stream(self, call: NativeCall, plan: Plan, target: Target, client: NativeClient,
                          timeout_s: float) -> tuple[NativeStream, PassthroughRelay] | Answer:
        opened = await client.open(self.request(call, target, timeout_s))
        if isinstance(opened, NativeResponse):
            return self.answer(opened, call)
        return opened, PassthroughRelay()


class TallyingRelay:
    """What the relays of a Bedrock response stream share: its ``chunk`` events are read on the side,
    so that their text meets the output guardrails and their usage is charged."""

    def __init__(self) -> None:
        self.reader = ChunkReader()
        self.tally = MessageTally()
        self.ending = HeldEnding()
        """The closing chunks, sent once the event is durable (``native_calls.NativeDispatcher``)."""

    @property
    def usage(self) -> Usage:
        return Usage.tallied(self.tally)

    @staticmethod
    def end() -> bytes:
        return b""


class PassthroughRelay(TallyingRelay):
    """The response stream goes to the client byte for byte, frame by frame; the closing chunks
    (``completes_message``) are held until the event is durable."""

    content_type = "application/vnd.amazon.eventstream"

    def feed(self, data: bytes) -> tuple[bytes, str]:
        out: list[bytes] = []
        texts: list[str] = []
        for raw, kind, event in self.reader.frames(data):
            final = kind == "chunk" and completes_message(event)
            if kind == "chunk":
                texts.append(self.tally.read_event(event))
            out.append(self.ending.pass_or_hold(raw, final))
        return b"".join(out), "".join(texts)

    @staticmethod
    def error(code: str, message: str) -> bytes:
        return encode_exception("modelStreamErrorException", orjson.dumps({"message": f"{code}: {message}"}))


def _header_int(response: NativeResponse, name: str) -> int | None:
    value = response.header(name)
    return int(value) if value is not None and value.isdigit() else None


def parse_bedrock(request: Request, operation: Operation, labels: dict[str, str]) -> NativeCall:
    """A ``bedrock-runtime`` request as a native call: policy texts, the model, the operation label."""
    doc: Any = None
    if request.body:
        try:
            doc = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            if operation.name.startswith("InvokeModel"):
                doc = None  # a non-JSON model body (rare): forwarded as it is, no text to check
            else:
                raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    model = unquote(labels.get("modelId", ""))
    if not model and isinstance(doc, dict):
        model = str(doc.get("modelId", ""))
    slots: list[TextSlot] = []
    if isinstance(doc, dict | list):
        collect_texts(doc, slots, TEXT_KEYS)
    invoke = operation.name in ("InvokeModel", "InvokeModelWithResponseStream")
    label = invoke_operation(model, doc) if invoke else operation.snake
    max_tokens = int_or_none(doc.get("max_tokens")) if invoke and isinstance(doc, dict) else None
    modalities = modalities_of(doc)
    ctx = RequestContext(
        api_key=bearer_key(request.headers), messages=slot_messages(slots), received_at=request.received_us,
        trace_id=trace_id(request.headers), model_requested=model[:256], max_tokens=max_tokens,
        stream=operation.name == "InvokeModelWithResponseStream", body_bytes=len(request.body),
        operation=label, modalities=modalities,
        input_images=native_images(doc) if "image" in modalities else 0, **contract(request.headers, None))
    door = BedrockDoor(operation, labels, request.path, request.query, request.headers)
    return NativeCall(ctx, door, doc, slots, request.body, same_model=bool(model), priced=invoke,
                      max_tokens_key="max_tokens" if max_tokens is not None else None)


def invoke_operation(model: str, doc: object) -> str:
    """The OTel operation name of an InvokeModel body: ``chat`` (messages), ``embeddings`` (an
    embedding model), ``text_completion`` (a bare prompt), else ``invoke_model``."""
    if "embed" in model.lower():
        return "embeddings"
    if isinstance(doc, dict):
        if "messages" in doc:
            return "chat"
        if "prompt" in doc or "inputText" in doc:
            return "text_completion"
    return "invoke_model"


def modalities_of(doc: object) -> tuple[str, ...]:
    """The kinds of content blocks a body carries (``image``, ``document``, ``audio``), always ``text``."""
    kinds = {"text"}
    stack: list[Any] = [doc]
    seen = 0
    while stack and seen < 10_000:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("image", "document", "audio"):
                kinds.add(str(kind))
            for key in ("image", "document", "audio", "inputImage"):
                if key in node:
                    kinds.add("image" if key == "inputImage" else key)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return tuple(sorted(kinds))
