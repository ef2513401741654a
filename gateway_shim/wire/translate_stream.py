"""Streamed answers across wire formats: provider events → ``StreamChunk`` (what the gateway reads),
and one format's events rewritten as the other's (stateful: block and tool-call indices).

OpenAI streams ``chat.completion.chunk`` documents; Converse streams typed events
(``messageStart``, ``contentBlockStart`` for a tool call, ``contentBlockDelta`` with ``text`` or
``toolUse.input`` fragments, ``contentBlockStop``, ``messageStop``, ``metadata`` with the usage).
"""

from __future__ import annotations

from typing import Any

from gateway_shim.upstream.base import StreamChunk
from gateway_shim.wire.translate_request import openai_stop_reason
from gateway_shim.wire.translate_response import (
    CONVERSE_FINISH,
    converse_usage,
    converse_usage_doc,
    openai_usage,
    openai_usage_doc,
)

ConverseEvent = tuple[str, dict[str, Any]]


def openai_chunk(doc: dict[str, Any]) -> StreamChunk:
    """One OpenAI stream document as a chunk (the document kept as ``raw``)."""
    choices = doc.get("choices") or []
    choice = choices[0] if choices else {}
    delta = choice.get("delta") or {}
    text = delta.get("content") or ""
    arguments = ""
    started = 0
    for call in delta.get("tool_calls") or ():
        if call.get("id"):
            started += 1
        arguments += str((call.get("function") or {}).get("arguments") or "")
    usage = doc.get("usage")
    if usage:
        input_tokens, output_tokens, cached, reasoning = openai_usage(usage)
        return StreamChunk(text, choice.get("finish_reason"), input_tokens, output_tokens, doc, "openai",
                           arguments, started, cached, None, reasoning)
    return StreamChunk(text if isinstance(text, str) else "", choice.get("finish_reason"), None, None, doc,
                       "openai", arguments, started)


def converse_chunk(event: dict[str, Any]) -> StreamChunk:
    """One Converse stream event (``{type: payload}``, as boto3 yields it) as a chunk."""
    kind, payload = next(iter(event.items()))
    if kind == "contentBlockDelta":
        delta = payload.get("delta") or {}
        if "text" in delta:
            return StreamChunk(str(delta["text"]), raw=event, wire="converse")
        if "toolUse" in delta:
            arguments = str(delta["toolUse"].get("input") or "")
            return StreamChunk("", raw=event, wire="converse", arguments=arguments)
    elif kind == "contentBlockStart":
        started = 1 if "toolUse" in (payload.get("start") or {}) else 0
        return StreamChunk("", raw=event, wire="converse", tool_calls=started)
    elif kind == "messageStop":
        reason = str(payload.get("stopReason") or "end_turn")
        return StreamChunk("", CONVERSE_FINISH.get(reason, reason), raw=event, wire="converse")
    elif kind == "metadata":
        input_tokens, output_tokens, read, write = converse_usage(payload.get("usage"))
        return StreamChunk("", None, input_tokens, output_tokens, event, "converse", "", 0, read, write)
    return StreamChunk("", raw=event, wire="converse")


class ConverseToOpenAI:
    """Converse events → OpenAI chunk documents (without id/created/model, which the encoder adds)."""

    __slots__ = ("_tools", "include_usage")

    def __init__(self, include_usage: bool) -> None:
        self._tools: dict[int, int] = {}  # Converse block index → OpenAI tool-call index
        self.include_usage = include_usage

    def documents(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind, payload = next(iter(event.items()))
        if kind == "messageStart":
            return [_choice({"role": "assistant", "content": ""})]
        if kind == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use is None:
                return []
            index = self._tools.setdefault(int(payload.get("contentBlockIndex", 0)), len(self._tools))
            return [_choice({"tool_calls": [{"index": index, "id": use.get("toolUseId"), "type": "function",
                                             "function": {"name": use.get("name"), "arguments": ""}}]})]
        if kind == "contentBlockDelta":
            delta = payload.get("delta") or {}
            if "text" in delta:
                return [_choice({"content": delta["text"]})]
            if "toolUse" in delta:
                index = self._tools.get(int(payload.get("contentBlockIndex", 0)), 0)
                fragment = delta["toolUse"].get("input", "")
                return [_choice({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})]
            return []
        if kind == "messageStop":
            reason = str(payload.get("stopReason") or "end_turn")
            return [_choice({}, CONVERSE_FINISH.get(reason, reason))]
        if kind == "metadata" and self.include_usage:
            input_tokens, output_tokens, read, _ = converse_usage(payload.get("usage"))
            return [{"choices": [], "usage": openai_usage_doc(input_tokens, output_tokens, read, None)}]
        return []


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}


class OpenAIToConverse:
    """OpenAI chunk documents → Converse events: text in block 0.., each tool call its own block."""

    __slots__ = ("_block", "_open", "_started", "_tools")

    def __init__(self) -> None:
        self._started = False
        self._block = -1  # index of the open block
        self._open: str | None = None  # "text" | "tool"
        self._tools: dict[int, int] = {}  # OpenAI tool-call index → Converse block index

    def events(self, doc: dict[str, Any]) -> list[ConverseEvent]:
        out: list[ConverseEvent] = []
        if not self._started:
            self._started = True
            out.append(("messageStart", {"role": "assistant"}))
        choices = doc.get("choices") or []
        choice = choices[0] if choices else {}
        delta = choice.get("delta") or {}
        text = delta.get("content")
        if text:
            if self._open != "text":
                self._close(out)
                self._block += 1
                self._open = "text"
            out.append(("contentBlockDelta", {"contentBlockIndex": self._block, "delta": {"text": text}}))
        for call in delta.get("tool_calls") or ():
            index = int(call.get("index", 0))
            function = call.get("function") or {}
            if index not in self._tools:
                self._close(out)
                self._block += 1
                self._open = "tool"
                self._tools[index] = self._block
                out.append(("contentBlockStart", {"contentBlockIndex": self._block, "start": {"toolUse": {
                    "toolUseId": call.get("id") or f"tooluse_{index}", "name": function.get("name") or ""}}}))
            if function.get("arguments"):
                out.append(("contentBlockDelta", {"contentBlockIndex": self._tools[index],
                                                  "delta": {"toolUse": {"input": function["arguments"]}}}))
        finish = choice.get("finish_reason")
        if finish:
            self._close(out)
            out.append(("messageStop", {"stopReason": openai_stop_reason(finish)}))
        usage = doc.get("usage")
        if usage:
            input_tokens, output_tokens, cached, _ = openai_usage(usage)
            out.append(("metadata", {"usage": converse_usage_doc(input_tokens, output_tokens, cached, None),
                                     "metrics": {"latencyMs": 0}}))
        return out

    def _close(self, out: list[ConverseEvent]) -> None:
        if self._open is not None:
            out.append(("contentBlockStop", {"contentBlockIndex": self._block}))
            self._open = None
