"""Every Bedrock Converse request field and content block, with its declared fate.

A Converse (``bedrock``) target gets the client's body unchanged except for the policy edits
(``modelId``, the lane's output cap, PII redaction); an OpenAI-compatible target gets the
translation (``gateway_shim/wire/translate_request.py``), and a field that cannot be translated makes
the request need a Converse target. A field botocore's ``bedrock-runtime`` model does not know is
refused at the door: the gateway calls Bedrock through that model, so it cannot carry it.
tests/gateway_shim/wire/test_field_fates.py checks these tables against botocore's service model.
"""

from __future__ import annotations

from typing import Any, Final

from gateway_shim.types import TEXT_ONLY
from gateway_shim.wire.fates import Fate, forwarded, gateway, wire_need

WIRE: Final = "converse"

FIELDS: Final[dict[str, Fate]] = {
    "modelId": gateway("gateway", "from the URL path; the route picks the model"),
    "messages": gateway("translated", "messages (PII redacted first)"),
    "system": gateway("translated", "a system message (PII redacted first)"),
    "inferenceConfig": gateway("translated", "max_tokens (capped by the lane), temperature, top_p, stop"),
    "requestMetadata": gateway("translated", "metadata (aigw contract keys are read too)"),
    "toolConfig": forwarded("translated", "tools + tool_choice"),
    "outputConfig": forwarded("translated", "response_format json_schema (textFormat only)"),
    "guardrailConfig": forwarded("refused", "Bedrock Guardrails"),
    "additionalModelRequestFields": forwarded("refused", "model-specific Bedrock fields", {}),
    "additionalModelResponseFieldPaths": forwarded("refused", "model-specific Bedrock fields", []),
    "promptVariables": forwarded("refused", "Bedrock prompt management", {}),
    "projectIdentifier": forwarded("refused", "Bedrock projects"),
    "performanceConfig": forwarded("refused", "Bedrock latency-optimised inference", {"latency": "standard"}),
    "serviceTier": forwarded("refused", "Bedrock service tiers", {"type": "default"}),
}
"""Top-level body fields (the members of botocore's ``Converse`` input shape)."""

CONTENT_BLOCKS: Final[dict[str, Fate]] = {
    "text": forwarded("translated", "text part"),
    "image": forwarded("translated", "image_url part with a data: URL (bytes; s3Location is refused)"),
    "document": forwarded("translated", "file part with a data: URL (bytes; s3Location is refused)"),
    "toolUse": forwarded("translated", "assistant tool_calls"),
    "toolResult": forwarded("translated", "a tool message (text and json blocks)"),
    "cachePoint": forwarded("translated", "nothing: OpenAI-compatible providers cache prompts themselves"),
    "video": forwarded("refused", "no video input on the OpenAI wire"),
    "audio": forwarded("refused", "no Converse-style audio block on the OpenAI wire"),
    "guardContent": forwarded("refused", "Bedrock Guardrails"),
    "reasoningContent": forwarded("refused", "model-signed reasoning only the same model can take back"),
    "citationsContent": forwarded("refused", "Bedrock citations"),
    "searchResult": forwarded("refused", "Bedrock search results"),
    "toolAddition": forwarded("refused", "Bedrock tool changes mid-conversation"),
    "toolRemoval": forwarded("refused", "Bedrock tool changes mid-conversation"),
}
"""Message content blocks (the members of ``ContentBlock``)."""

SYSTEM_BLOCKS: Final[dict[str, Fate]] = {
    "text": forwarded("translated", "system message text"),
    "cachePoint": forwarded("translated", "nothing (see CONTENT_BLOCKS)"),
    "guardContent": forwarded("refused", "Bedrock Guardrails"),
}

TOOL_RESULT_BLOCKS: Final[dict[str, Fate]] = {
    "text": forwarded("translated", "tool message text"),
    "json": forwarded("translated", "tool message text (the JSON serialised)"),
    "image": forwarded("refused", "OpenAI tool messages carry text only"),
    "document": forwarded("refused", "OpenAI tool messages carry text only"),
    "video": forwarded("refused", "OpenAI tool messages carry text only"),
    "searchResult": forwarded("refused", "Bedrock search results"),
}

_MODALITY = {"image": "image", "document": "document", "video": "video", "audio": "audio"}


def request_needs(body: dict[str, Any], needs: list[str]) -> str | None:
    """Append to ``needs`` what the body asks for beyond plain text chat; return the first field
    no target can carry (unknown to botocore's model), or None."""
    for key, value in body.items():
        fate = FIELDS.get(key)
        if fate is None:
            return key
        if fate.other == "refused" and value is not None and value not in fate.neutral:
            needs.append(wire_need(WIRE, key))
    tools = body.get("toolConfig")
    if isinstance(tools, dict) and tools.get("tools"):
        needs.append("tools")
        if any(isinstance(t, dict) and "toolSpec" not in t and "cachePoint" not in t for t in tools["tools"]):
            needs.append(wire_need(WIRE, "toolConfig.tools[].systemTool"))
    output = body.get("outputConfig")
    if isinstance(output, dict):
        if output.get("textFormat") is not None:
            needs.append("json_schema")
        if output.get("effort") is not None:
            needs.append(wire_need(WIRE, "outputConfig.effort"))
    return None


def block_needs(messages: list[dict[str, Any]], system: list[Any], needs: list[str]) -> tuple[str, ...]:
    """Append the content blocks' needs; return the request's modalities (sorted kinds of content)."""
    kinds = {"text"}
    for block in system:
        for key in block if isinstance(block, dict) else ():
            fate = SYSTEM_BLOCKS.get(key)
            if fate is not None and fate.other == "refused":
                needs.append(wire_need(WIRE, f"system.{key}"))
    for message in messages:
        for block in message.get("content") or ():
            if not isinstance(block, dict) or "text" in block:
                continue
            for key, value in block.items():
                fate = CONTENT_BLOCKS.get(key)
                if fate is None:
                    continue  # botocore's model refuses it at the call; nothing to route on
                if key in _MODALITY:
                    kinds.add(_MODALITY[key])
                    if key == "image":
                        needs.append("vision")
                    source = value.get("source") if isinstance(value, dict) else None
                    if isinstance(source, dict) and "bytes" not in source:
                        needs.append(wire_need(WIRE, f"{key}.source (not bytes)"))
                elif key in ("toolUse", "toolResult"):
                    needs.append("tools")
                    if key == "toolResult":
                        _tool_result_needs(value, needs)
                if fate.other == "refused":
                    needs.append(wire_need(WIRE, f"content.{key}"))
    return TEXT_ONLY if len(kinds) == 1 else tuple(sorted(kinds))


def _tool_result_needs(result: object, needs: list[str]) -> None:
    for block in (result.get("content") or ()) if isinstance(result, dict) else ():
        for key in block if isinstance(block, dict) else ():
            fate = TOOL_RESULT_BLOCKS.get(key)
            if fate is not None and fate.other == "refused":
                needs.append(wire_need(WIRE, f"toolResult.content.{key}"))
