"""Real application traffic passes through unharmed: the official ``openai`` SDK and boto3 against
``aigw serve`` and a recording upstream, comparing what the app sent with what the provider got.

Routes (by workflow) pick the case: ``default`` is an OpenAI-compatible target (same format for the
OpenAI door, translated for the Converse door), ``translated`` a Bedrock (Converse) target, and the
others exercise capability routing and the unknown-field policy. Outgoing Converse requests are
validated against botocore's service model, the gateway's answers against the SDKs' types.
"""

from __future__ import annotations

import base64
import copy
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import openai
import pytest
import yaml
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from botocore.session import get_session
from botocore.validate import ParamValidator
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.gateway_shim.server.recording_upstream import Recorder, RecordingUpstream, recording_upstream
from tests.gateway_shim.server.stack import TEST_CONFIG, GatewayProcess, start_gateway

pytestmark = pytest.mark.slow

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}
REPORT_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}, "dry": {"type": "boolean"}},
    "required": ["city", "temp_c", "dry"],
    "additionalProperties": False,
}
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
PER_IMAGE_USD = 0.001
"""gpt-4o's per-image price in this test's catalog (the ``per-image`` route)."""
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_CONVERSE = get_session().get_service_model("bedrock-runtime").operation_model("Converse")
_CONVERSE_INPUT = _CONVERSE.input_shape


def _valid_converse_answer(response: dict[str, Any]) -> None:
    """The gateway's Converse answer, checked against botocore's Converse output shape."""
    answer = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(answer, _CONVERSE.output_shape)
    assert not report.has_errors(), report.generate_report()


def _config(port: int) -> str:
    document = yaml.safe_load(TEST_CONFIG.read_text())
    document["providers"] = {
        "oa": {"kind": "openai", "endpoint": f"http://127.0.0.1:{port}/v1", "timeout_s": 10},
        "br": {
            "kind": "bedrock",
            "endpoint": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "timeout_s": 10,
        },
        "strict": {
            "kind": "openai",
            "endpoint": f"http://127.0.0.1:{port}/v1",
            "timeout_s": 10,
            "unknown_fields": "refuse",
        },
    }
    document["data_classes"] = {
        "public": {"providers": ["*"]},
        "internal": {"providers": ["*"]},
        "restricted": {"providers": ["br"]},
    }
    document["routes"] = {
        "translated": {
            "match": {"workflows": ["translated"]},
            "targets": ["br/anthropic.claude-3-7-sonnet-v1"],
        },
        "capability": {
            "match": {"workflows": ["capability"]},
            "targets": ["br/amazon.titan-text-express-v1", "oa/gpt-4o-mini"],
        },
        "no-tools": {"match": {"workflows": ["no-tools"]}, "targets": ["br/amazon.titan-text-express-v1"]},
        "strict": {"match": {"workflows": ["strict"]}, "targets": ["strict/gpt-4o-mini"]},
        "per-image": {"match": {"workflows": ["per-image"]}, "targets": ["oa/gpt-4o"]},
        "default": {"targets": ["oa/gpt-4o-mini"]},
    }
    price = [{"effective_from": "2026-01-01", "input_per_mtok": 1.0, "output_per_mtok": 2.0}]
    document["pricing"] = {
        m: price for m in ("gpt-4o-mini", "anthropic.claude-3-7-sonnet-v1", "amazon.titan-text-express-v1")
    }
    document["pricing"]["gpt-4o"] = [{**price[0], "input_image_usd": PER_IMAGE_USD}]
    document["gateway"]["max_body_bytes"] = 262144
    document["guardrails"]["output_validation"] = {
        "deny_patterns": [{"name": "secret", "regex": "TOPSECRET-[0-9]+"}]
    }
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    with recording_upstream() as running:
        yield running


def _start(tmp: Path, upstream: RecordingUpstream, gateway_id: str) -> GatewayProcess:
    return start_gateway(
        tmp,
        upstream,
        config_text=_config(upstream.port),
        gateway_id=gateway_id,
        env=AWS_ENV,
    )


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: RecordingUpstream
) -> Iterator[GatewayProcess]:
    running = _start(tmp_path_factory.mktemp("fidelity"), upstream, "fidelity-gw")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def recorder(upstream: RecordingUpstream) -> Recorder:
    return upstream.recorder


def _openai(gateway: GatewayProcess, workflow: str = "default") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key="demo-acme",
        max_retries=0,
        timeout=20,
        default_headers={"x-aigw-workflow": workflow},
    )


@pytest.fixture
def bedrock(gateway: GatewayProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "demo-acme")
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=gateway.tls_url,
        verify=str(gateway.ca_file),
        config=BotoConfig(retries={"total_max_attempts": 1}),
    )
    yield client
    client.close()


def _validated_converse(received: Any) -> dict[str, Any]:
    """The Converse body the upstream got, checked against botocore's service model (blobs travel as
    base64 text, which the blob type accepts)."""
    body: dict[str, Any] = received.json()
    model = received.path.split("/")[2]
    report = ParamValidator().validate({"modelId": model, **body}, _CONVERSE_INPUT)
    assert not report.has_errors(), report.generate_report()
    return body


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _sse(gateway: GatewayProcess, body: dict[str, Any], workflow: str) -> list[dict[str, Any]]:
    """A streamed chat completion read raw, each chunk validated against the SDK's chunk type."""
    request = urllib.request.Request(
        f"{gateway.url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={
            "authorization": "Bearer demo-acme",
            "x-aigw-workflow": workflow,
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        text = response.read().decode()
    events = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def _streamed_calls(chunks: list[dict[str, Any]]) -> tuple[list[dict[str, str]], str | None]:
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or ():
                call = calls.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.get("id") or ""
                call["name"] += (delta.get("function") or {}).get("name") or ""
                call["arguments"] += (delta.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return [calls[i] for i in sorted(calls)], finish


# ---- OpenAI door, same-format target: the body arrives unchanged but for the policy edits ------------


def test_a_tool_round_trip_reaches_an_openai_target_unchanged(
    gateway: GatewayProcess, recorder: Recorder
) -> None:
    sent: dict[str, Any] = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "tools": [WEATHER],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "seed": 7,
        "n": 1,
        "stop": ["\n\n"],
        "logprobs": False,
        "logit_bias": {"50256": -100},
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "u-42",
        "store": False,
        "service_tier": "auto",
        "reasoning_effort": "low",
        "metadata": {"ticket": "T-1"},
        "max_completion_tokens": 100_000,
    }
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            **copy.deepcopy(sent), extra_body={"x_vendor_flag": True}
        )
    first = ChatCompletion.model_validate(raw.http_response.json())
    got = recorder.last("/chat/completions").json()
    assert _without(got, "model", "max_completion_tokens") == _without(
        {**sent, "x_vendor_flag": True}, "model", "max_completion_tokens"
    )
    assert (got["model"], got["max_completion_tokens"]) == ("gpt-4o-mini", 512)  # the lane's cap
    assert raw.headers["x-aigw-edits"] == "max_tokens:512"
    (call,) = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "unit"}
    assert first.usage is not None and first.usage.prompt_tokens_details is not None
    assert first.system_fingerprint == "fp_aigw_sim"

    follow_up = [
        *sent["messages"],
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18, "sky": "clear"}'},
    ]
    with _openai(gateway) as client:
        final = client.chat.completions.create(model="auto", messages=follow_up, tools=[WEATHER])
    assert final.choices[0].finish_reason in ("stop", "length") and final.choices[0].message.content
    got = recorder.last("/chat/completions").json()
    assert got["messages"] == follow_up


def test_a_streamed_tool_call_arrives_whole_on_an_openai_target(gateway: GatewayProcess) -> None:
    body = {
        "model": "auto",
        "stream": True,
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    chunks = _sse(gateway, body, "default")
    (call,), finish = _streamed_calls(chunks)
    assert finish == "tool_calls" and call["name"] == "get_weather" and call["id"].startswith("call_")
    assert set(json.loads(call["arguments"])) == {"city", "unit"}
    assert all("usage" not in c for c in chunks)  # the client did not ask for the usage chunk


def test_json_schema_output_is_forwarded_and_answered(gateway: GatewayProcess, recorder: Recorder) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "report", "schema": REPORT_SCHEMA, "strict": True},
    }
    with _openai(gateway) as client:
        answer = client.chat.completions.create(
            model="auto",
            response_format=response_format,
            messages=[{"role": "user", "content": "Report on Rome"}],
        )
    assert recorder.last("/chat/completions").json()["response_format"] == response_format
    assert set(json.loads(answer.choices[0].message.content or "")) == {"city", "temp_c", "dry"}


def test_an_image_reaches_an_openai_target_unchanged(gateway: GatewayProcess, recorder: Recorder) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
    ]
    with _openai(gateway) as client:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": content}])
    assert recorder.last("/chat/completions").json()["messages"][0]["content"] == content


def test_unknown_fields_are_forwarded_or_refused_per_provider(
    gateway: GatewayProcess, recorder: Recorder
) -> None:
    with _openai(gateway) as client:
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"vendor_knob": {"level": 3}},
        )
    assert recorder.last("/chat/completions").json()["vendor_knob"] == {"level": 3}
    for workflow in ("strict", "translated"):
        with _openai(gateway, workflow) as client, pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "hi"}], extra_body={"vendor_knob": 1}
            )
        assert refused.value.code == "capability_unavailable"
        assert "unknown field 'vendor_knob'" in refused.value.message


def test_policy_edits_reach_tool_results_and_are_announced(
    gateway: GatewayProcess, recorder: Recorder
) -> None:
    messages = [
        {"role": "user", "content": "Who filed ticket 7?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"ticket": 7}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "filed by jane.doe@example.com"},
    ]
    with _openai(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=messages, max_tokens=20)
    got = recorder.last("/chat/completions").json()
    assert got["messages"][2]["content"] == "filed by [REDACTED:email]"
    assert got["messages"][1] == messages[1] and got["max_tokens"] == 20
    assert raw.headers["x-aigw-edits"] == "pii_redacted:email"


LEAK = {
    "type": "function",
    "function": {
        "name": "share_code",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "enum": ["TOPSECRET-42"]}},
            "required": ["code"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_output_deny_patterns_cover_tool_call_arguments(gateway: GatewayProcess, stream: bool) -> None:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": "share the code"}],
        "tools": [LEAK],
        "tool_choice": "required",
    }
    if stream:
        request = urllib.request.Request(
            f"{gateway.url}/v1/chat/completions",
            data=json.dumps({**body, "stream": True}).encode(),
            headers={"authorization": "Bearer demo-acme", "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            text = response.read().decode()
        assert '"code":"output_blocked"' in text and "TOPSECRET-42" not in text
        return
    with _openai(gateway) as client, pytest.raises(openai.PermissionDeniedError) as blocked:
        client.chat.completions.create(**body)
    assert blocked.value.code == "output_blocked" and "TOPSECRET-42" not in blocked.value.message


# ---- OpenAI door, Converse target: translated ---------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_a_tool_round_trip_is_translated_to_converse(
    gateway: GatewayProcess, recorder: Recorder, stream: bool
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Answer with tools."},
        {"role": "user", "content": f"Weather in Lima? ({stream})"},
    ]
    body = {
        "model": "auto",
        "messages": messages,
        "tools": [WEATHER],
        "tool_choice": "required",
        "temperature": 0.5,
        "stop": ["END"],
        "stream": stream,
    }
    if stream:
        (call_doc,), finish = _streamed_calls(_sse(gateway, body, "translated"))
        call = {
            "id": call_doc["id"],
            "type": "function",
            "function": {"name": call_doc["name"], "arguments": call_doc["arguments"]},
        }
    else:
        with _openai(gateway, "translated") as client:
            raw = client.chat.completions.with_raw_response.create(**_without(body, "stream"))
        completion = ChatCompletion.model_validate(raw.http_response.json())
        finish = completion.choices[0].finish_reason
        call = completion.choices[0].message.tool_calls[0].model_dump()
    assert finish == "tool_calls" and call["function"]["name"] == "get_weather"
    got = _validated_converse(recorder.last("/converse"))
    assert got["system"] == [{"text": "Answer with tools."}]
    assert got["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "inputSchema": {"json": WEATHER["function"]["parameters"]},
                }
            }
        ],
        "toolChoice": {"any": {}},
    }
    assert got["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.5, "stopSequences": ["END"]}

    follow_up = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C, clear"},
    ]
    with _openai(gateway, "translated") as client:
        final = client.chat.completions.create(model="auto", messages=follow_up, tools=[WEATHER])
    assert final.choices[0].message.content
    got = _validated_converse(recorder.last("/converse"))
    assert got["messages"][1]["content"] == [
        {
            "toolUse": {
                "toolUseId": call["id"],
                "name": "get_weather",
                "input": json.loads(call["function"]["arguments"]),
            }
        }
    ]
    assert got["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": call["id"], "content": [{"text": "18 C, clear"}]}}
    ]


def test_json_schema_and_an_image_are_translated_to_converse(
    gateway: GatewayProcess, recorder: Recorder
) -> None:
    content = [
        {"type": "text", "text": "Describe it as a report"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    response_format = {"type": "json_schema", "json_schema": {"name": "report", "schema": REPORT_SCHEMA}}
    with _openai(gateway, "translated") as client:
        answer = client.chat.completions.create(
            model="auto",
            response_format=response_format,
            messages=[{"role": "user", "content": content}],
        )
    got = _validated_converse(recorder.last("/converse"))
    assert got["messages"][0]["content"] == [
        {"text": "Describe it as a report"},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
    ]
    definition = got["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert json.loads(definition["schema"]) == REPORT_SCHEMA and definition["name"] == "report"
    assert set(json.loads(answer.choices[0].message.content or "")) == {"city", "temp_c", "dry"}


def test_a_field_converse_cannot_carry_is_refused_naming_it(
    gateway: GatewayProcess, recorder: Recorder
) -> None:
    before = len(recorder.requests())
    with _openai(gateway, "translated") as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], logit_bias={"50256": -100}
        )
    assert refused.value.code == "capability_unavailable"
    assert (
        "'logit_bias'" in refused.value.message
        and "br/anthropic.claude-3-7-sonnet-v1" in refused.value.message
    )
    assert len(recorder.requests()) == before


# ---- capability routing ---------------------------------------------------------------------------------


def test_a_chain_skips_targets_without_the_capability(gateway: GatewayProcess) -> None:
    with _openai(gateway, "capability") as client:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Weather in Quito?"}], tools=[WEATHER]
        )
    assert raw.headers["x-aigw-model"] == "gpt-4o-mini" and raw.headers["x-aigw-fallback"] == "true"
    with _openai(gateway, "capability") as client:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "plain text"}]
        )
    assert raw.headers["x-aigw-model"] == "amazon.titan-text-express-v1"


def test_a_feature_no_target_supports_is_400_naming_it(gateway: GatewayProcess) -> None:
    with _openai(gateway, "no-tools") as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "x"}], tools=[WEATHER]
        )
    assert refused.value.code == "capability_unavailable"
    assert "br/amazon.titan-text-express-v1 lacks tools" in refused.value.message


# ---- Converse door (boto3) ----------------------------------------------------------------------------

CONVERSE_TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Current weather",
                "inputSchema": {"json": WEATHER["function"]["parameters"]},
            }
        }
    ],
    "toolChoice": {"auto": {}},
}


def test_converse_reaches_a_bedrock_target_unchanged(bedrock: Any, recorder: Recorder) -> None:
    sent = {
        "modelId": "anthropic.claude-3-7-sonnet-v1",
        "system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "Weather in Bergen?"},
                    {"image": {"format": "png", "source": {"bytes": base64.b64decode(PNG)}}},
                ],
            }
        ],
        "toolConfig": CONVERSE_TOOLS,
        "inferenceConfig": {"maxTokens": 64, "topP": 0.8},
        "additionalModelRequestFields": {"top_k": 40},
        "requestMetadata": {"workflow": "translated"},
    }
    response = bedrock.converse(**copy.deepcopy(sent))
    _valid_converse_answer(response)
    got = _validated_converse(recorder.last("/converse"))
    expected = json.loads(
        json.dumps(
            {
                **_without(sent, "modelId"),
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"text": "Weather in Bergen?"},
                            {"image": {"format": "png", "source": {"bytes": PNG}}},
                        ],
                    }
                ],
                # the client's pairs, plus the gateway's join keys for Bedrock's invocation logs
                "requestMetadata": {
                    "workflow": "translated",
                    "aigw_trace_id": response["ResponseMetadata"]["HTTPHeaders"]["x-aigw-trace-id"],
                    "aigw_tenant": "acme",
                    "aigw_workflow": "translated",
                },
            }
        )
    )
    assert got == expected
    (block,) = response["output"]["message"]["content"]
    assert response["stopReason"] == "tool_use" and block["toolUse"]["name"] == "get_weather"
    assert set(block["toolUse"]["input"]) == {"city", "unit"}
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-aigw-model"] == "anthropic.claude-3-7-sonnet-v1"

    stream = bedrock.converse_stream(**copy.deepcopy(sent))
    events = list(stream["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds.count("messageStart") == 1 and kinds[-1] == "metadata"
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    arguments = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e
    )
    assert set(json.loads(arguments)) == {"city", "unit"}


def test_converse_is_translated_for_an_openai_target(bedrock: Any, recorder: Recorder) -> None:
    messages = [{"role": "user", "content": [{"text": "Weather in Cusco?"}]}]
    response = bedrock.converse(
        modelId="auto", messages=messages, toolConfig=CONVERSE_TOOLS, requestMetadata={"workflow": "default"}
    )
    _valid_converse_answer(response)
    got = recorder.last("/chat/completions").json()
    assert got["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": WEATHER["function"]["parameters"],
            },
        }
    ]
    assert got["tool_choice"] == "auto"
    (block,) = response["output"]["message"]["content"]
    use = block["toolUse"]
    assert response["stopReason"] == "tool_use"

    follow_up = [
        *messages,
        {"role": "assistant", "content": [block]},
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp_c": 9}}]}}
            ],
        },
    ]
    final = bedrock.converse(
        modelId="auto", messages=follow_up, toolConfig=CONVERSE_TOOLS, requestMetadata={"workflow": "default"}
    )
    assert final["output"]["message"]["content"][0]["text"]
    got = recorder.last("/chat/completions").json()
    assert got["messages"][1]["tool_calls"][0]["id"] == use["toolUseId"]
    assert got["messages"][2] == {"role": "tool", "tool_call_id": use["toolUseId"], "content": '{"temp_c":9}'}


def test_converse_stream_is_translated_from_an_openai_target(bedrock: Any, recorder: Recorder) -> None:
    stream = bedrock.converse_stream(
        modelId="auto",
        messages=[{"role": "user", "content": [{"text": "Weather in Tromso?"}]}],
        toolConfig=CONVERSE_TOOLS,
        requestMetadata={"workflow": "default"},
    )
    events = list(stream["stream"])
    got = recorder.last("/chat/completions").json()
    assert got["stream"] is True and got["stream_options"] == {"include_usage": True}
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds.count("messageStart") == 1
    assert kinds[-2:] == ["messageStop", "metadata"] and kinds.count("metadata") == 1
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    arguments = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e
    )
    assert set(json.loads(arguments)) == {"city", "unit"}
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    assert events[-1]["metadata"]["usage"]["outputTokens"] > 0


def test_converse_with_a_field_openai_cannot_carry_is_refused(bedrock: Any) -> None:
    with pytest.raises(ClientError) as refused:
        bedrock.converse(
            modelId="auto",
            messages=[{"role": "user", "content": [{"text": "x"}]}],
            guardrailConfig={"guardrailIdentifier": "g1", "guardrailVersion": "1"},
            requestMetadata={"workflow": "default"},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "guardrailConfig" in refused.value.response["Error"]["Message"]


# ---- the event ------------------------------------------------------------------------------------------


def test_the_event_records_tools_cache_modalities_and_capability_fallback(
    tmp_path: Path, upstream: RecordingUpstream
) -> None:
    gateway = _start(tmp_path, upstream, "fidelity-events")
    try:
        long_prompt = "Summarise the weather archive. " + "It rained in Lima again. " * 250
        with _openai(gateway, "capability") as client:
            client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": long_prompt}], tools=[WEATHER]
            )
            client.chat.completions.create(
                model="auto",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "and this?"},
                            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        ],
                    }
                ],
            )
    finally:
        gateway.stop()
    tools_event, image_event = gateway.events()
    assert (tools_event["operation"], tools_event["schema_version"], tools_event["tool_calls"]) == (
        "chat",
        2,
        1,
    )
    assert tools_event["fallback_reason"] == "capability" and tools_event["fallback_used"]
    assert tools_event["cache_read_tokens"] is not None and tools_event["reasoning_tokens"] == 0
    assert list(image_event["modalities"]) == ["image", "text"]
    assert image_event["model_name"] == "gpt-4o-mini"  # titan has no vision


def test_each_image_is_priced_and_counted_in_the_event(
    tmp_path: Path, upstream: RecordingUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two images through the OpenAI door and one through Converse, on a model with a per-image price;
    a text-only call on the same model pays tokens only."""
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "demo-acme")
    gateway = _start(tmp_path, upstream, "fidelity-images")
    try:
        with _openai(gateway, "per-image") as client:
            client.chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": [{"type": "text", "text": "compare"}, image, image]}],
            )
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "no picture"}])
        bedrock = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=gateway.tls_url,
                               verify=str(gateway.ca_file),
                               config=BotoConfig(retries={"total_max_attempts": 1}))
        picture = {"image": {"format": "png", "source": {"bytes": base64.b64decode(PNG)}}}
        try:
            bedrock.converse(
                modelId="auto",
                messages=[{"role": "user", "content": [{"text": "and this one?"}, picture]}],
                requestMetadata={"workflow": "per-image"},
            )
        finally:
            bedrock.close()
    finally:
        gateway.stop()
    events = gateway.events()
    assert [(e["model_name"], e["outcome"], e["input_images"]) for e in events] == [
        ("gpt-4o", "ok", 2), ("gpt-4o", "ok", 0), ("gpt-4o", "ok", 1)]
    for event in events:
        tokens_usd = (event["input_tokens"] * 1.0 + event["output_tokens"] * 2.0) / 1e6
        assert event["input_tokens"] > 0
        images_usd = event["input_images"] * PER_IMAGE_USD
        assert event["estimated_cost_usd"] == pytest.approx(tokens_usd + images_usd, rel=1e-12)
