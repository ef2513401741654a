"""Every OpenAI Chat Completions request field, content part and message role, with its declared fate.

A same-format (OpenAI-compatible) target gets the client's body unchanged except for the policy
edits (``model``, the lane's output cap, PII redaction); a Converse target gets the translation
(``gateway_shim/wire/translate_request.py``), and a field that cannot be translated makes the request
need an OpenAI-compatible target. tests/gateway_shim/wire/test_field_fates.py checks these tables
against the ``openai`` package's own type definitions. docs/gateway.md has the table for people.
"""

from __future__ import annotations

from typing import Any, Final

from gateway_shim.types import TEXT_ONLY
from gateway_shim.wire.fates import Fate, forwarded, gateway, unknown_need, wire_need

WIRE: Final = "openai"

FIELDS: Final[dict[str, Fate]] = {
    "messages": gateway("translated", "messages + system (PII redacted first)"),
    "model": gateway("gateway", "the route picks the model; the target's own id goes upstream"),
    "stream": gateway("translated", "ConverseStream"),
    "stream_options": gateway("gateway", "include_usage decides whether the client sees the usage chunk"),
    "max_tokens": gateway("translated", "inferenceConfig.maxTokens (capped by the lane)"),
    "max_completion_tokens": gateway("translated", "inferenceConfig.maxTokens (capped by the lane)"),
    "metadata": gateway("translated", "requestMetadata (aigw contract keys are read too)"),
    "user": gateway("gateway", "the event's user_id; Bedrock has no end-user field"),
    "safety_identifier": gateway("gateway", "the event's user_id when no other is given; Bedrock has none"),
    "temperature": forwarded("translated", "inferenceConfig.temperature"),
    "top_p": forwarded("translated", "inferenceConfig.topP"),
    "stop": forwarded("translated", "inferenceConfig.stopSequences"),
    "tools": forwarded("translated", "toolConfig.tools (function → toolSpec.inputSchema.json)", []),
    "tool_choice": forwarded("translated", "toolConfig.toolChoice (auto/required/named; none: no tools)"),
    "parallel_tool_calls": forwarded("refused", "Converse cannot forbid parallel tool calls", True),
    "response_format": forwarded("translated", "outputConfig.textFormat (json_schema)", {"type": "text"}),
    "n": forwarded("refused", "Converse returns one choice", 1),
    "seed": forwarded("refused", "Converse has no seed"),
    "logprobs": forwarded("refused", "Converse returns no log probabilities", False),
    "top_logprobs": forwarded("refused", "Converse returns no log probabilities", 0),
    "logit_bias": forwarded("refused", "Converse has no logit bias", {}),
    "frequency_penalty": forwarded("refused", "Converse has no penalties", 0, 0.0),
    "presence_penalty": forwarded("refused", "Converse has no penalties", 0, 0.0),
    "reasoning_effort": forwarded("refused", "model-specific on Bedrock"),
    "verbosity": forwarded("refused", "OpenAI-only"),
    "modalities": forwarded("refused", "Converse answers in text only", ["text"]),
    "audio": forwarded("refused", "Converse answers in text only"),
    "prediction": forwarded("refused", "OpenAI-only (predicted outputs)"),
    "service_tier": forwarded("refused", "OpenAI tiers", "auto", "default"),
    "store": forwarded("refused", "OpenAI stored completions", False),
    "prompt_cache_key": forwarded("refused", "OpenAI prompt-cache routing"),
    "prompt_cache_options": forwarded("refused", "OpenAI prompt caching"),
    "prompt_cache_retention": forwarded("refused", "OpenAI prompt caching"),
    "moderation": forwarded("refused", "OpenAI moderation"),
    "web_search_options": forwarded("refused", "OpenAI web search"),
    "functions": forwarded("refused", "deprecated; use tools"),
    "function_call": forwarded("refused", "deprecated; use tool_choice"),
}
"""Top-level body fields."""

CONTENT_PARTS: Final[dict[str, Fate]] = {
    "text": forwarded("translated", "text block"),
    "image_url": forwarded("translated", "image block (data: URLs; an http(s) URL is refused)"),
    "input_audio": forwarded("refused", "Converse takes no audio input from this gateway"),
    "file": forwarded("translated", "document block (file_data as a data: URL; a file_id is refused)"),
    "refusal": forwarded("translated", "text block (an assistant's earlier refusal)"),
}
"""Message content parts, by ``type``."""

ROLES: Final[dict[str, Fate]] = {
    "system": forwarded("translated", "system block"),
    "developer": forwarded("translated", "system block"),
    "user": forwarded("translated", "user message"),
    "assistant": forwarded("translated", "assistant message; tool_calls → toolUse blocks"),
    "tool": forwarded("translated", "user message with a toolResult block"),
    "function": forwarded("refused", "deprecated; use tool messages"),
}

MESSAGE_FIELDS: Final[dict[str, Fate]] = {
    "role": forwarded("translated", "role (see ROLES)"),
    "content": forwarded("translated", "content blocks (see CONTENT_PARTS)"),
    "tool_calls": forwarded("translated", "toolUse blocks (arguments parsed as JSON)"),
    "tool_call_id": forwarded("translated", "toolResult.toolUseId"),
    "refusal": forwarded("translated", "text block"),
    "name": forwarded("refused", "Converse messages carry no participant name"),
    "audio": forwarded("refused", "Converse takes no audio"),
    "function_call": forwarded("refused", "deprecated; use tool_calls"),
}
"""Fields of one message."""

def _is_neutral(fate: Fate, value: object) -> bool:
    return value is None or value in fate.neutral


def request_needs(body: dict[str, Any], needs: list[str]) -> None:
    """Append to ``needs`` what the body asks for beyond plain text chat (see ``wire/fates.py``):
    capabilities, fields only an OpenAI target carries, unknown fields. Messages are checked by
    ``message_needs``."""
    for key, value in body.items():
        fate = FIELDS.get(key)
        if fate is None:
            needs.append(unknown_need(key))
        elif fate.other == "refused" and not _is_neutral(fate, value):
            needs.append(wire_need(WIRE, key))
    tools = body.get("tools")
    if tools:
        needs.append("tools")
        if any(isinstance(t, dict) and t.get("type", "function") != "function" for t in tools):
            needs.append(wire_need(WIRE, "tools[].type=custom"))
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") not in (None, "function"):
        needs.append(wire_need(WIRE, f"tool_choice.type={choice.get('type')}"))
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            needs.append("json_schema")
        elif kind not in (None, "text"):
            needs.append(wire_need(WIRE, f"response_format.type={kind}"))


def message_needs(messages: list[dict[str, Any]], needs: list[str]) -> tuple[str, ...]:
    """Append the messages' needs; return the request's modalities (sorted kinds of content)."""
    kinds = {"text"}
    for message in messages:
        role = message.get("role")
        if role in ("tool",) or message.get("tool_calls"):
            needs.append("tools")
        for key in message:
            fate = MESSAGE_FIELDS.get(key)
            if fate is None:
                needs.append(unknown_need(f"messages[].{key}"))
            elif fate.other == "refused" and message[key] is not None:
                needs.append(wire_need(WIRE, f"messages[].{key}"))
        role_fate = ROLES.get(role) if isinstance(role, str) else None
        if role_fate is not None and role_fate.other == "refused":
            needs.append(wire_need(WIRE, f"role={role}"))
        content = message.get("content")
        if type(content) is not list:
            continue
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" or kind is None:
                continue
            fate = CONTENT_PARTS.get(kind)
            if fate is None:
                needs.append(unknown_need(f"content.{kind}"))
                continue
            if kind == "image_url":
                kinds.add("image")
                needs.append("vision")
                image = part.get("image_url")
                url = image.get("url", "") if isinstance(image, dict) else ""
                if not str(url).startswith("data:"):
                    needs.append(wire_need(WIRE, "image_url (an http(s) URL)"))
            elif kind == "input_audio":
                kinds.add("audio")
            elif kind == "file":
                kinds.add("document")
                file = part.get("file")
                if not (isinstance(file, dict) and str(file.get("file_data", "")).startswith("data:")):
                    needs.append(wire_need(WIRE, "file (a file_id)"))
            if fate.other == "refused":
                needs.append(wire_need(WIRE, f"content.{kind}"))
    return TEXT_ONLY if len(kinds) == 1 else tuple(sorted(kinds))
