"""Responses across wire formats (whole answers and stream events), and what the gateway reads of them.

``summarize_*`` reads what policy and telemetry need from a provider's answer (text and tool-call
arguments for the output guardrails, usage incl. cache and reasoning tokens, tool-call count, finish
reason); the ``*_to_*`` functions rewrite an answer for a door of the other format. A same-format
answer is never rewritten: the door sends the provider's own document.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shim.wire.translate_request import openai_stop_reason

CONVERSE_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                   "tool_use": "tool_calls", "content_filtered": "content_filter",
                   "guardrail_intervened": "content_filter", "model_context_window_exceeded": "length"}


@dataclass(slots=True)
class Summary:
    """What the gateway reads of an answer. Input tokens include cached ones (OTel's convention)."""

    text: str
    scan: str
    """Text and tool-call arguments: what the output deny patterns look at."""
    input_tokens: int
    output_tokens: int
    finish_reason: str
    tool_calls: int
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def openai_usage(usage: object) -> tuple[int, int, int | None, int | None]:
    """(input, output, cached input, reasoning) of an OpenAI ``usage`` object."""
    if not isinstance(usage, dict):
        return 0, 0, None, None
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    return (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
            _int(prompt.get("cached_tokens")) if isinstance(prompt, dict) else None,
            _int(completion.get("reasoning_tokens")) if isinstance(completion, dict) else None)


def converse_usage(usage: object) -> tuple[int, int, int | None, int | None]:
    """(input incl. cache read and write, output, cache read, cache write) of a Converse ``usage``."""
    if not isinstance(usage, dict):
        return 0, 0, None, None
    read, write = _int(usage.get("cacheReadInputTokens")), _int(usage.get("cacheWriteInputTokens"))
    total_input = int(usage.get("inputTokens") or 0) + (read or 0) + (write or 0)
    return total_input, int(usage.get("outputTokens") or 0), read, write


def summarize_openai(doc: dict[str, Any]) -> Summary:
    """Choice 0's text is the answer; every choice's text and tool-call arguments are scanned (``n`` > 1)."""
    choices = doc.get("choices") or []
    first = choices[0] if choices else {}
    text = (first.get("message") or {}).get("content") or ""
    if not isinstance(text, str):
        text = ""
    scanned: list[str] = []
    calls = 0
    for choice in choices:
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, str) and content:
            scanned.append(content)
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                calls += 1
                scanned.append(str((call.get("function") or {}).get("arguments") or ""))
    input_tokens, output_tokens, cached, reasoning = openai_usage(doc.get("usage"))
    scan = text if len(scanned) <= 1 and calls == 0 else "\n".join(scanned)
    return Summary(text, scan, input_tokens, output_tokens, first.get("finish_reason") or "stop",
                   calls, cached, None, reasoning)


def summarize_converse(doc: dict[str, Any]) -> Summary:
    content = ((doc.get("output") or {}).get("message") or {}).get("content") or []
    texts: list[str] = []
    arguments: list[str] = []
    for block in content:
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            arguments.append(orjson.dumps(block["toolUse"].get("input") or {}).decode())
    input_tokens, output_tokens, read, write = converse_usage(doc.get("usage"))
    stop = str(doc.get("stopReason") or "end_turn")
    text = "".join(texts)
    return Summary(text, "\n".join([text, *arguments]) if arguments else text, input_tokens, output_tokens,
                   CONVERSE_FINISH.get(stop, stop), len(arguments), read, write, None)


# ---- whole answers --------------------------------------------------------------------------------------

def converse_to_openai_response(doc: dict[str, Any], completion_id: str, created: int,
                                model: str) -> dict[str, Any]:
    """A Converse answer as an OpenAI ``chat.completion``."""
    summary = summarize_converse(doc)
    content = ((doc.get("output") or {}).get("message") or {}).get("content") or []
    calls = [{"id": b["toolUse"].get("toolUseId"), "type": "function",
              "function": {"name": b["toolUse"].get("name"),
                           "arguments": orjson.dumps(b["toolUse"].get("input") or {}).decode()}}
             for b in content if "toolUse" in b]
    text = summary.text if summary.text or not calls else None
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    return {"id": completion_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": summary.finish_reason,
                         "logprobs": None}],
            "usage": openai_usage_doc(summary.input_tokens, summary.output_tokens, summary.cache_read_tokens,
                                      None)}


def openai_usage_doc(input_tokens: int, output_tokens: int, cached: int | None,
                     reasoning: int | None) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                             "total_tokens": input_tokens + output_tokens}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def openai_to_converse_response(doc: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` as a Converse answer."""
    choices = doc.get("choices") or []
    choice = choices[0] if choices else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = message.get("content") or message.get("refusal")
    if text:
        content.append({"text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            parsed = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            parsed = {"arguments": function.get("arguments")}
        content.append({"toolUse": {"toolUseId": call.get("id"), "name": function.get("name"),
                                    "input": parsed if isinstance(parsed, dict) else {"value": parsed}}})
    if not content:
        content.append({"text": ""})
    input_tokens, output_tokens, cached, _ = openai_usage(doc.get("usage"))
    return {"output": {"message": {"role": "assistant", "content": content}},
            "stopReason": openai_stop_reason(choice.get("finish_reason")),
            "usage": converse_usage_doc(input_tokens, output_tokens, cached, None),
            "metrics": {"latencyMs": int(latency_ms)}}


def converse_usage_doc(input_tokens: int, output_tokens: int, cache_read: int | None,
                       cache_write: int | None) -> dict[str, Any]:
    """Converse counts cached input apart from ``inputTokens``; ``input_tokens`` here includes it."""
    uncached = max(0, input_tokens - (cache_read or 0) - (cache_write or 0))
    usage: dict[str, Any] = {"inputTokens": uncached, "outputTokens": output_tokens,
                             "totalTokens": input_tokens + output_tokens}
    if cache_read is not None:
        usage["cacheReadInputTokens"] = cache_read
    if cache_write is not None:
        usage["cacheWriteInputTokens"] = cache_write
    return usage


def json_default(value: object) -> str:
    """orjson's fallback for boto3's answers: blobs (bytes) as base64, as the Converse JSON wire has them."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
