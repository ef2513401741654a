"""Request bodies across wire formats: OpenAI Chat Completions ⇄ Bedrock Converse, and the policy
edits of a same-format body.

Inputs are the client's parsed body plus the messages as policy left them (redacted copies where
PII was found). A Converse request's messages are in the gateway's *policy view*: Converse messages
with the ``system`` blocks first as one ``{"role": "system", "content": [blocks]}`` entry, so the
core scans and redacts both formats alike. Only what ``openai_fields``/``converse_fields`` declare
``translated`` is carried across; what they declare ``refused`` never reaches here (the core routes
such requests to a same-format target or refuses them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

Body = dict[str, Any]

_IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
_DOCUMENT_FORMATS = {"application/pdf": "pdf", "text/csv": "csv", "text/plain": "txt", "text/html": "html",
                     "text/markdown": "md", "application/msword": "doc",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
                     "application/vnd.ms-excel": "xls",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}
_DOCUMENT_TYPES = {fmt: mime for mime, fmt in _DOCUMENT_FORMATS.items()}
_OPENAI_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "content_filtered"}


class TranslationError(ValueError):
    """A body that cannot be carried to the other wire format (malformed content, not a policy gap)."""


# ---- same format: the client's body with the policy edits only ---------------------------------------

def edited_openai(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], model: str,
                  max_tokens: int | None, stream: bool) -> Body:
    """The client's OpenAI body as it goes to an OpenAI-compatible target: every field unchanged but
    ``model``, ``messages`` (redacted), the output cap (in the field the client used) and streaming
    (the gateway always asks for the usage chunk)."""
    out = dict(body)
    out["model"] = model
    out["messages"] = messages
    if max_tokens is not None:
        if out.get("max_completion_tokens") is not None:
            out["max_completion_tokens"] = max_tokens
            if out.get("max_tokens") is not None:
                out["max_tokens"] = max_tokens
        else:
            out["max_tokens"] = max_tokens
    if stream:
        out["stream"] = True
        options = out.get("stream_options")
        out["stream_options"] = {**options, "include_usage": True} if isinstance(options, dict) else {
            "include_usage": True}
    else:
        out.pop("stream", None)
        out.pop("stream_options", None)
    return out


def edited_converse(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], model: str,
                    max_tokens: int | None) -> Body:
    """The client's Converse body as boto3 arguments for a Converse target: every field unchanged but
    ``modelId``, ``messages``/``system`` (redacted), ``inferenceConfig.maxTokens`` (the cap), and
    base64 blobs decoded to the bytes boto3 expects."""
    out = {k: v for k, v in body.items() if k != "system"}
    system, conversation = split_system(messages)
    out["modelId"] = model
    out["messages"] = [_decode_blobs(m) for m in conversation]
    if system:
        out["system"] = system
    if max_tokens is not None:
        config = dict(out.get("inferenceConfig") or {})
        config["maxTokens"] = max_tokens
        out["inferenceConfig"] = config
    return out


def split_system(messages: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[Mapping[str, Any]]]:
    """Policy-view Converse messages → (system blocks, the conversation)."""
    if messages and messages[0].get("role") == "system":
        return list(messages[0].get("content") or []), list(messages[1:])
    return [], list(messages)


def _decode_blobs(value: Any) -> Any:
    """Converse JSON (blobs as base64 strings) → boto3 shapes (blobs as bytes): every ``source.bytes``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "bytes" and isinstance(item, str):
                out[key] = _b64decode(item)
            else:
                out[key] = _decode_blobs(item)
        return out
    if isinstance(value, list):
        return [_decode_blobs(item) for item in value]
    return value


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TranslationError(f"a content block's bytes are not valid base64: {exc}") from None


# ---- OpenAI → Converse ----------------------------------------------------------------------------------

def openai_to_converse(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], model: str,
                       max_tokens: int | None) -> Body:
    """An OpenAI chat body as boto3 Converse arguments."""
    system: list[dict[str, Any]] = []
    conversation: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = _openai_text(message.get("content"))
            if text:
                system.append({"text": text})
            continue
        if role == "tool":
            blocks = [{"toolResult": {"toolUseId": str(message.get("tool_call_id") or ""),
                                      "content": [{"text": _openai_text(message.get("content")) or " "}]}}]
            _append(conversation, "user", blocks)
        elif role == "assistant":
            _append(conversation, "assistant", _assistant_blocks(message))
        else:
            _append(conversation, "user", _user_blocks(message.get("content")))
    arguments: Body = {"modelId": model, "messages": conversation}
    if system:
        arguments["system"] = system
    config = _inference_config(body, max_tokens)
    if config:
        arguments["inferenceConfig"] = config
    tools = _tool_config(body)
    if tools is not None:
        arguments["toolConfig"] = tools
    output = _output_config(body.get("response_format"))
    if output is not None:
        arguments["outputConfig"] = output
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        strings = {str(k): v for k, v in metadata.items() if isinstance(v, str)}
        if strings:
            arguments["requestMetadata"] = strings
    return arguments


def _append(conversation: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Converse wants user/assistant turns alternating: consecutive turns of one role merge."""
    if not blocks:
        blocks = [{"text": " "}]
    if conversation and conversation[-1]["role"] == role:
        conversation[-1]["content"].extend(blocks)
    else:
        conversation.append({"role": role, "content": blocks})


def _openai_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content
                       if isinstance(p, dict) and p.get("type", "text") in ("text", "refusal"))
    return ""


def _user_blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type", "text")
        if kind in ("text", "refusal"):
            text = part.get("text") or part.get("refusal") or ""
            if text:
                blocks.append({"text": text})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            mime, data = _data_url(url, "image_url.url")
            fmt = _IMAGE_FORMATS.get(mime.partition("/")[2])
            if fmt is None:
                raise TranslationError(f"image type {mime!r} is not one Converse takes (png/jpeg/gif/webp)")
            blocks.append({"image": {"format": fmt, "source": {"bytes": data}}})
        elif kind == "file":
            file = part.get("file") or {}
            mime, data = _data_url(file.get("file_data", ""), "file.file_data")
            fmt = _DOCUMENT_FORMATS.get(mime)
            if fmt is None:
                raise TranslationError(f"file type {mime!r} is not a document type Converse takes")
            name = str(file.get("filename") or "document").rsplit(".", 1)[0]
            safe = "".join(c if c.isalnum() or c in " -()[]" else "-" for c in name)[:200] or "document"
            blocks.append({"document": {"format": fmt, "name": safe, "source": {"bytes": data}}})
    return blocks


def _data_url(url: str, where: str) -> tuple[str, bytes]:
    head, sep, payload = str(url).partition(",")
    if not head.startswith("data:") or not sep or not head.endswith(";base64"):
        raise TranslationError(f"{where} must be a base64 data: URL for a Converse target")
    return head[5:-7], _b64decode(payload)


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _openai_text(message.get("content")) or str(message.get("refusal") or "")
    if text:
        blocks.append({"text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            raise TranslationError(f"tool call {call.get('id')!r}: arguments are not JSON") from None
        blocks.append({"toolUse": {"toolUseId": str(call.get("id") or ""), "name": str(function.get("name")),
                                   "input": parsed if isinstance(parsed, dict) else {"value": parsed}}})
    return blocks


def _inference_config(body: Mapping[str, Any], max_tokens: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if isinstance(body.get("temperature"), int | float):
        config["temperature"] = float(body["temperature"])
    if isinstance(body.get("top_p"), int | float):
        config["topP"] = float(body["top_p"])
    stop = body.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list):
        config["stopSequences"] = [s for s in stop if isinstance(s, str)]
    return config


def _tool_config(body: Mapping[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    specs = []
    for tool in tools:
        function = tool.get("function") or {}
        spec: dict[str, Any] = {"name": function.get("name"),
                                "inputSchema": {"json": function.get("parameters") or {"type": "object",
                                                                                      "properties": {}}}}
        if function.get("description"):
            spec["description"] = function["description"]
        if isinstance(function.get("strict"), bool):
            spec["strict"] = function["strict"]
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": (choice.get("function") or {}).get("name")}}
    return config


def _output_config(response_format: object) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    definition: dict[str, Any] = {"schema": orjson.dumps(spec.get("schema") or {}).decode(),
                                  "name": str(spec.get("name") or "output")}
    if spec.get("description"):
        definition["description"] = spec["description"]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


# ---- Converse → OpenAI ----------------------------------------------------------------------------------

def converse_to_openai(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], model: str,
                       max_tokens: int | None, stream: bool) -> Body:
    """A Converse body (policy-view messages) as an OpenAI chat body."""
    system, conversation = split_system(messages)
    out_messages: list[dict[str, Any]] = []
    system_text = "\n".join(str(b["text"]) for b in system if isinstance(b, dict) and "text" in b)
    if system_text:
        out_messages.append({"role": "system", "content": system_text})
    for message in conversation:
        if message.get("role") == "assistant":
            out_messages.append(_openai_assistant(message.get("content") or []))
        else:
            out_messages.extend(_openai_user(message.get("content") or []))
    out: Body = {"model": model, "messages": out_messages}
    config = body.get("inferenceConfig") or {}
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    for source, target in (("temperature", "temperature"), ("topP", "top_p"), ("stopSequences", "stop")):
        if config.get(source) is not None:
            out[target] = config[source]
    tool_config = body.get("toolConfig")
    if isinstance(tool_config, dict) and tool_config.get("tools"):
        out["tools"] = [
            {"type": "function", "function": {
                "name": t["toolSpec"].get("name"),
                **({"description": t["toolSpec"]["description"]} if t["toolSpec"].get("description") else {}),
                "parameters": (t["toolSpec"].get("inputSchema") or {}).get("json") or {"type": "object"},
                **({"strict": t["toolSpec"]["strict"]}
                   if isinstance(t["toolSpec"].get("strict"), bool) else {}),
            }}
            for t in tool_config["tools"] if isinstance(t, dict) and "toolSpec" in t
        ]
        choice = tool_config.get("toolChoice") or {}
        if "auto" in choice:
            out["tool_choice"] = "auto"
        elif "any" in choice:
            out["tool_choice"] = "required"
        elif "tool" in choice:
            out["tool_choice"] = {"type": "function", "function": {"name": choice["tool"].get("name")}}
    text_format = (body.get("outputConfig") or {}).get("textFormat")
    if isinstance(text_format, dict):
        definition = (text_format.get("structure") or {}).get("jsonSchema") or {}
        try:
            schema = orjson.loads(definition.get("schema") or "{}")
        except orjson.JSONDecodeError:
            raise TranslationError("outputConfig...jsonSchema.schema is not JSON") from None
        json_schema: dict[str, Any] = {"name": definition.get("name") or "output", "schema": schema}
        if definition.get("description"):
            json_schema["description"] = definition["description"]
        out["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    metadata = body.get("requestMetadata")
    if isinstance(metadata, dict) and metadata:
        out["metadata"] = dict(metadata)
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _openai_assistant(blocks: Sequence[Any]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append({"id": use.get("toolUseId"), "type": "function",
                          "function": {"name": use.get("name"),
                                       "arguments": orjson.dumps(use.get("input") or {}).decode()}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _openai_user(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    """One Converse user turn → tool messages (its toolResult blocks, first) and a user message."""
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            parts.append({"type": "text", "text": str(block["text"])})
        elif "image" in block:
            image = block["image"]
            data = (image.get("source") or {}).get("bytes", "")
            parts.append({"type": "image_url",
                          "image_url": {"url": f"data:image/{image.get('format', 'png')};base64,"
                                                f"{_b64(data)}"}})
        elif "document" in block:
            document = block["document"]
            data = (document.get("source") or {}).get("bytes", "")
            fmt = str(document.get("format", "pdf"))
            parts.append({"type": "file", "file": {
                "filename": f"{document.get('name', 'document')}.{fmt}",
                "file_data": f"data:{_DOCUMENT_TYPES.get(fmt, 'application/octet-stream')};base64,"
                             f"{_b64(data)}"}})
        elif "toolResult" in block:
            result = block["toolResult"]
            texts = [str(c["text"]) if "text" in c else orjson.dumps(c["json"]).decode()
                     for c in result.get("content") or ()
                     if isinstance(c, dict) and ("text" in c or "json" in c)]
            tools.append({"role": "tool", "tool_call_id": result.get("toolUseId"),
                          "content": "\n".join(texts)})
    out = tools
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        out.append({"role": "user",
                    "content": "".join(p["text"] for p in parts) if only_text else parts})
    return out


def _b64(data: object) -> str:
    return base64.b64encode(data).decode() if isinstance(data, bytes | bytearray) else str(data)


def openai_stop_reason(finish_reason: str | None) -> str:
    return _OPENAI_STOP.get(finish_reason or "stop", finish_reason or "end_turn")
