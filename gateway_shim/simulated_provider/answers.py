"""What the simulated model answers beyond plain text, the same on both wires: a tool call when tools
are offered (and the conversation does not just end in a tool result), a JSON document when a JSON
schema is asked for, and cached input tokens in the usage. Deterministic: the prompt digest decides.

A tool call's arguments and a JSON answer fill the schema's required properties with placeholder
values of their type, so they validate against simple schemas the way an agent framework expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.simulated_provider.simulated_model import SimResponse

CACHE_MIN_TOKENS = 1024
"""Prompts shorter than this are never cached (OpenAI's and Bedrock's minimum is of this order)."""
CACHE_BLOCK = 128


@dataclass(slots=True, frozen=True)
class Features:
    """What a request asks of the model, read from either wire."""

    tools: tuple[tuple[str, dict[str, Any]], ...] = ()
    """(name, JSON schema of the arguments) of each offered tool."""
    forced_tool: str | None = None
    tool_choice_none: bool = False
    after_tool_result: bool = False
    json_schema: dict[str, Any] | None = None
    caching: bool = True
    """Whether the prompt may be served from cache (OpenAI: always; Converse: with a cachePoint)."""


@dataclass(slots=True, frozen=True)
class Answer:
    text: str
    finish_reason: str
    output_tokens: int
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_arguments: str | None = None
    cached_tokens: int = 0


def answer(sim: SimResponse, features: Features) -> Answer:
    cached = _cached(sim, features)
    if features.tools and not features.after_tool_result and not features.tool_choice_none:
        names = [name for name, _ in features.tools]
        name = features.forced_tool if features.forced_tool in names else names[sim.digest % len(names)]
        schema = dict(features.tools)[name]
        arguments = orjson.dumps(placeholder(schema, sim.text.split())).decode()
        call_id = f"call_sim{sim.digest & 0xFFFFFFFF:08x}"
        return Answer("", "tool_calls", max(5, len(arguments) // 4), name, call_id, arguments, cached)
    if features.json_schema is not None:
        text = orjson.dumps(placeholder(features.json_schema, sim.text.split())).decode()
        return Answer(text, "stop", max(1, len(text) // 4), cached_tokens=cached)
    return Answer(sim.text, sim.finish_reason, sim.output_tokens, cached_tokens=cached)


def _cached(sim: SimResponse, features: Features) -> int:
    return cached_tokens(sim.input_tokens, sim.digest) if features.caching else 0


def cached_tokens(input_tokens: int, digest: int) -> int:
    """Input tokens served from the prompt cache: none below the minimum or on a miss (one prompt in
    three), else three quarters of the prompt in whole cache blocks."""
    if input_tokens < CACHE_MIN_TOKENS or digest % 3 == 0:
        return 0
    return (input_tokens * 3 // 4) // CACHE_BLOCK * CACHE_BLOCK


def calls_a_tool(digest: int) -> bool:
    """Whether an agent's turn ends in a tool call (two turns in three) in the simulator."""
    return digest % 3 != 1


def placeholder(schema: object, words: list[str]) -> Any:
    """A value of the schema's type: objects get their required (else all) properties filled."""
    if not isinstance(schema, dict):
        return words[0] if words else "example"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: placeholder(properties.get(name, {}), words[i + 1:]) for i, name in enumerate(required)}
    if kind == "array":
        return [placeholder(schema.get("items") or {}, words)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return " ".join(words[:3]) if words else "example"


def openai_features(doc: dict[str, Any]) -> Features:
    functions = [t.get("function") or {} for t in doc.get("tools") or () if isinstance(t, dict)]
    tools = tuple((str(f.get("name")), f.get("parameters") or {}) for f in functions)
    choice = doc.get("tool_choice")
    forced = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    messages = doc.get("messages") or []
    response_format = doc.get("response_format")
    schema = None
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
    elif isinstance(response_format, dict) and response_format.get("type") == "json_object":
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    return Features(tools, forced, choice == "none", last.get("role") == "tool", schema)


def converse_features(doc: dict[str, Any]) -> Features:
    config = doc.get("toolConfig") or {}
    tools = tuple((str(t["toolSpec"].get("name")), (t["toolSpec"].get("inputSchema") or {}).get("json") or {})
                  for t in config.get("tools") or () if isinstance(t, dict) and "toolSpec" in t)
    choice = config.get("toolChoice") or {}
    forced = (choice.get("tool") or {}).get("name") if isinstance(choice, dict) else None
    messages = doc.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    after_result = any(isinstance(b, dict) and "toolResult" in b for b in last.get("content") or ())
    schema = None
    text_format = (doc.get("outputConfig") or {}).get("textFormat")
    if isinstance(text_format, dict):
        raw = ((text_format.get("structure") or {}).get("jsonSchema") or {}).get("schema") or "{}"
        try:
            schema = orjson.loads(raw)
        except orjson.JSONDecodeError:
            schema = {}
    blocks = [*(doc.get("system") or ()), *(b for m in messages for b in m.get("content") or ())]
    caching = any(isinstance(b, dict) and "cachePoint" in b for b in blocks)
    return Features(tools, forced, False, after_result, schema, caching)
