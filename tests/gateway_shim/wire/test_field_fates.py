"""Every request field the official SDKs define has a declared fate (forwarded, translated, refused or
gateway-owned): the fate tables are checked against the ``openai`` package's own request types and
botocore's ``bedrock-runtime`` service model, so an SDK upgrade that adds a field fails here until
the field is given a fate."""

from __future__ import annotations

import typing

import botocore.session
import pytest
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.completion_create_params import CompletionCreateParamsBase

from gateway_shim.wire import converse_fields, openai_fields
from gateway_shim.wire.fates import Fate

_BEDROCK = botocore.session.get_session().get_service_model("bedrock-runtime")


def _literal_types(union: object) -> set[str]:
    """The ``type``/``role`` literal of each TypedDict in an SDK union."""
    names = set()
    for member in typing.get_args(union):
        hints = typing.get_type_hints(member)
        key = "role" if "role" in hints else "type"
        names.update(typing.get_args(hints[key]))
    return names


def _members(shape: str) -> set[str]:
    return set(_BEDROCK.shape_for(shape).members)


CASES = [
    ("openai body", set(CompletionCreateParamsBase.__annotations__) | {"stream"}, openai_fields.FIELDS),
    ("openai content part", _literal_types(ChatCompletionContentPartParam) | {"refusal"},
     openai_fields.CONTENT_PARTS),
    ("openai message role", _literal_types(ChatCompletionMessageParam), openai_fields.ROLES),
    ("openai message field", set(ChatCompletionAssistantMessageParam.__annotations__) | {"tool_call_id"},
     openai_fields.MESSAGE_FIELDS),
    ("converse body", set(_BEDROCK.operation_model("Converse").input_shape.members), converse_fields.FIELDS),
    ("converse content block", _members("ContentBlock"), converse_fields.CONTENT_BLOCKS),
    ("converse system block", _members("SystemContentBlock"), converse_fields.SYSTEM_BLOCKS),
    ("converse tool result block", _members("ToolResultContentBlock"), converse_fields.TOOL_RESULT_BLOCKS),
]


@pytest.mark.parametrize(("what", "sdk_fields", "table"), CASES, ids=[c[0] for c in CASES])
def test_every_sdk_field_has_a_declared_fate(what: str, sdk_fields: set[str], table: dict[str, Fate]) -> None:
    assert len(sdk_fields) >= 3, f"the SDK's {what} definitions were not found"
    undeclared = sorted(sdk_fields - set(table))
    assert undeclared == [], f"{what}: no declared fate for {undeclared} (add them to gateway_shim/wire/)"


@pytest.mark.parametrize(("what", "sdk_fields", "table"), CASES, ids=[c[0] for c in CASES])
def test_every_fate_names_a_field_the_sdk_has_and_says_what_becomes_of_it(
        what: str, sdk_fields: set[str], table: dict[str, Fate]) -> None:
    assert sorted(set(table) - sdk_fields) == []
    for name, fate in table.items():
        assert fate.same in ("forwarded", "gateway") and fate.other in ("translated", "refused", "gateway")
        assert fate.note, f"{what} {name}: the fate needs a note saying what it becomes or why refused"


def test_the_fields_the_issue_names_are_forwarded_unchanged_to_an_openai_target() -> None:
    named = ["tools", "tool_choice", "parallel_tool_calls", "response_format", "n", "seed", "stop",
             "logprobs", "top_logprobs", "logit_bias", "frequency_penalty", "presence_penalty",
             "temperature", "top_p", "reasoning_effort", "modalities", "prediction", "service_tier", "store"]
    assert {name: openai_fields.FIELDS[name].same for name in named} == dict.fromkeys(named, "forwarded")


def test_needs_name_what_only_an_openai_target_carries_and_ignore_neutral_values() -> None:
    needs: list[str] = []
    openai_fields.request_needs({"model": "m", "messages": [], "n": 1, "logprobs": False, "seed": 7,
                                 "logit_bias": {"50256": -100}, "tools": [{"type": "function"}],
                                 "response_format": {"type": "json_schema"}, "x_custom": 1}, needs)
    assert needs == ["openai:seed", "openai:logit_bias", "unknown:x_custom", "tools", "json_schema"]


def test_message_needs_find_images_tools_and_http_image_urls() -> None:
    needs: list[str] = []
    modalities = openai_fields.message_needs([
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ], needs)
    assert modalities == ("image", "text")
    assert needs == ["vision", "openai:image_url (an http(s) URL)", "tools", "tools"]


def test_converse_needs_and_modalities() -> None:
    needs: list[str] = []
    body = {"modelId": "m", "messages": [], "guardrailConfig": {"guardrailIdentifier": "g"},
            "toolConfig": {"tools": [{"toolSpec": {"name": "f"}}]}, "additionalModelRequestFields": {}}
    assert converse_fields.request_needs(body, needs) is None
    assert needs == ["converse:guardrailConfig", "tools"]
    assert converse_fields.request_needs({"nope": 1}, []) == "nope"
    blocks: list[str] = []
    modalities = converse_fields.block_needs(
        [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": "AA=="}}},
                                      {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/k"}}}},
                                      {"toolResult": {"toolUseId": "t", "content": [{"image": {}}]}}]}],
        [{"text": "sys"}, {"guardContent": {}}], blocks)
    assert modalities == ("image", "text", "video")
    assert blocks == ["converse:system.guardContent", "vision", "converse:video.source (not bytes)",
                      "converse:content.video", "tools", "converse:toolResult.content.image"]
