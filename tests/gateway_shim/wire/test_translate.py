"""OpenAI ⇄ Converse: requests, whole answers and streams, checked against the other format's rules
(botocore's Converse input shape; the openai SDK's response types)."""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.session import get_session
from botocore.validate import ParamValidator
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway_shim.wire.translate_request import (
    converse_to_openai,
    edited_converse,
    edited_openai,
    openai_to_converse,
)
from gateway_shim.wire.translate_response import (
    converse_to_openai_response,
    openai_to_converse_response,
    summarize_converse,
    summarize_openai,
)
from gateway_shim.wire.translate_stream import (
    ConverseToOpenAI,
    OpenAIToConverse,
    converse_chunk,
    openai_chunk,
)

CONVERSE = get_session().get_service_model("bedrock-runtime").operation_model("Converse").input_shape
PNG = b"\x89PNG\r\n\x1a\nfake"
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "find",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
    },
}


def _valid(arguments: dict[str, Any]) -> None:
    report = ParamValidator().validate(arguments, CONVERSE)
    assert not report.has_errors(), report.generate_report()


def test_openai_body_becomes_valid_converse_arguments() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(PNG).decode()},
                },
                {
                    "type": "file",
                    "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"id": "7"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
        {"role": "user", "content": "thanks"},
    ]
    body = {
        "messages": messages,
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": {"type": "object"}},
        },
        "metadata": {"ticket": "T-1"},
        "top_p": 0.5,
        "stop": "END",
    }
    arguments = openai_to_converse(body, messages, "m", 64)
    _valid(arguments)
    assert arguments["system"] == [{"text": "sys"}, {"text": "dev"}]
    user, assistant, results = arguments["messages"]
    assert user["content"][1] == {"image": {"format": "jpeg", "source": {"bytes": PNG}}}
    assert (
        user["content"][2]["document"]["format"] == "pdf"
        and user["content"][2]["document"]["name"] == "report"
    )
    assert assistant["content"] == [
        {"text": "calling"},
        {"toolUse": {"toolUseId": "c1", "name": "lookup", "input": {"id": "7"}}},
    ]
    assert results["content"] == [
        {"toolResult": {"toolUseId": "c1", "content": [{"text": "found"}]}},
        {"text": "thanks"},
    ]
    assert arguments["toolConfig"]["toolChoice"] == {"tool": {"name": "lookup"}}
    assert arguments["inferenceConfig"] == {"maxTokens": 64, "topP": 0.5, "stopSequences": ["END"]}
    assert arguments["requestMetadata"] == {"ticket": "T-1"}
    assert json.loads(arguments["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"]) == {
        "type": "object"
    }


def test_converse_body_becomes_an_openai_body_and_back() -> None:
    image = base64.b64encode(PNG).decode()
    body = {
        "system": [{"text": "sys"}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {
                "role": "user",
                "content": [{"text": "look"}, {"image": {"format": "png", "source": {"bytes": image}}}],
            },
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"id": "7"}}}],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"ok": True}}]}}],
            },
        ],
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"any": {}},
        },
        "inferenceConfig": {"maxTokens": 999, "temperature": 0.2},
    }
    policy_view = [{"role": "system", "content": body["system"]}, *body["messages"]]
    out = converse_to_openai(body, policy_view, "gpt", 100, stream=True)
    assert out["messages"][0] == {"role": "system", "content": "sys"}
    assert out["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{image}"},
    }
    assert out["messages"][2]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"id":"7"}'}
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": '{"ok":true}'}
    assert (out["tool_choice"], out["max_tokens"], out["temperature"]) == ("required", 100, 0.2)
    assert out["stream_options"] == {"include_usage": True}
    again = openai_to_converse(out, out["messages"], "m", 100)
    _valid(again)
    assert again["messages"][2]["content"][0]["toolResult"]["toolUseId"] == "t1"
    same = edited_converse(body, policy_view, "anthropic.claude", 100)
    _valid(same)
    assert same["system"] == body["system"] and same["inferenceConfig"] == {
        "maxTokens": 100,
        "temperature": 0.2,
    }
    assert same["messages"][0]["content"][1]["image"]["source"]["bytes"] == PNG


def test_the_same_format_body_keeps_every_field_but_the_policy_edits() -> None:
    body = {
        "model": "auto",
        "messages": [],
        "seed": 1,
        "stream": True,
        "stream_options": {"include_obfuscation": False},
        "max_completion_tokens": 9000,
        "x_custom": [1],
    }
    out = edited_openai(body, [{"role": "user", "content": "[REDACTED:email]"}], "gpt", 512, stream=True)
    assert out == {
        **body,
        "model": "gpt",
        "messages": [{"role": "user", "content": "[REDACTED:email]"}],
        "max_completion_tokens": 512,
        "stream_options": {"include_obfuscation": False, "include_usage": True},
    }
    assert "stream" not in edited_openai(body, [], "gpt", 512, stream=False)


def test_answers_translate_both_ways_with_tool_calls_and_cache_usage() -> None:
    converse = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "checking"},
                    {"toolUse": {"toolUseId": "t9", "name": "lookup", "input": {"id": "7"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 5,
            "totalTokens": 115,
            "cacheReadInputTokens": 100,
            "cacheWriteInputTokens": 0,
        },
    }
    summary = summarize_converse(converse)
    assert (summary.input_tokens, summary.cache_read_tokens, summary.tool_calls) == (110, 100, 1)
    assert '"id":"7"' in summary.scan
    completion = ChatCompletion.model_validate(converse_to_openai_response(converse, "chatcmpl-x", 1, "m"))
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100
    back = openai_to_converse_response(completion.model_dump(), 12.0)
    assert back["stopReason"] == "tool_use" and back["usage"]["cacheReadInputTokens"] == 100
    assert back["usage"]["inputTokens"] == 10
    assert summarize_openai(completion.model_dump()).tool_calls == 1


def test_streams_translate_both_ways() -> None:
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "hi"}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "t1", "name": "f"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":'}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, "metrics": {}}},
    ]
    chunks = [converse_chunk(e) for e in events]
    assert sum(c.tool_calls for c in chunks) == 1 and "".join(c.arguments for c in chunks) == '{"a":1}'
    translator = ConverseToOpenAI(include_usage=True)
    docs = [d for e in events for d in translator.documents(e)]
    for doc in docs:
        ChatCompletionChunk.model_validate(
            {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", **doc}
        )
    calls = [c for d in docs for ch in d["choices"] for c in ch["delta"].get("tool_calls", [])]
    assert calls[0]["id"] == "t1" and "".join(c["function"]["arguments"] for c in calls) == '{"a":1}'
    assert docs[-2]["choices"][0]["finish_reason"] == "tool_calls" and docs[-1]["usage"]["total_tokens"] == 7
    back = OpenAIToConverse()
    round_trip = [e for d in docs for e in back.events(d)]
    kinds = [k for k, _ in round_trip]
    assert kinds == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert openai_chunk(docs[2]).tool_calls == 1


def test_every_choice_and_tool_call_is_scanned_by_the_output_guardrails() -> None:
    doc = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "first"}, "finish_reason": "stop"},
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"k":"SECRET"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ]
    }
    summary = summarize_openai(doc)
    assert summary.text == "first" and summary.tool_calls == 1
    assert "first" in summary.scan and "SECRET" in summary.scan
