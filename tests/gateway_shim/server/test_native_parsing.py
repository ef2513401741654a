"""The native doors' pure parts: which Bedrock operation a path is (from botocore's own model),
where the texts of a body are (so redaction writes back into it), and the operation label."""

from __future__ import annotations

import orjson
import pytest

from gateway_shim.server.bedrock_api import (
    Operation,
    invoke_operation,
    match_operation,
    modalities_of,
    parse_bedrock,
)
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Request
from gateway_shim.server.messages_api import MessagesDoor
from gateway_shim.server.native_calls import TextSlot, Usage, collect_texts, event_input_tokens, slot_messages
from gateway_shim.upstream.native import NativeResponse

MODEL = "anthropic.claude-3-5-haiku-20241022-v1%3A0"


@pytest.mark.parametrize(("method", "path", "operation", "labels"), [
    ("POST", f"/model/{MODEL}/invoke", "InvokeModel", {"modelId": MODEL}),
    ("POST", f"/model/{MODEL}/invoke-with-response-stream", "InvokeModelWithResponseStream",
     {"modelId": MODEL}),
    ("POST", f"/model/{MODEL}/count-tokens", "CountTokens", {"modelId": MODEL}),
    ("POST", "/guardrail/gr-1/version/2/apply", "ApplyGuardrail",
     {"guardrailIdentifier": "gr-1", "guardrailVersion": "2"}),
    ("POST", "/async-invoke", "StartAsyncInvoke", {}),
    ("GET", "/async-invoke", "ListAsyncInvokes", {}),
    ("GET", "/async-invoke/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aasync-invoke%2Fx", "GetAsyncInvoke",
     {"invocationArn": "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aasync-invoke%2Fx"}),
])
def test_bedrock_operations_are_recognised_from_the_service_model(method: str, path: str, operation: str,
                                                                  labels: dict[str, str]) -> None:
    found = match_operation(method, path)
    assert found is not None
    assert (found[0].name, found[1]) == (operation, labels)


def test_converse_the_bidirectional_stream_and_wrong_methods_are_not_passthrough() -> None:
    assert match_operation("POST", f"/model/{MODEL}/converse") is None
    assert match_operation("POST", f"/model/{MODEL}/invoke-with-bidirectional-stream") is None
    assert match_operation("GET", f"/model/{MODEL}/invoke") is None
    assert match_operation("POST", "/model//invoke") is None
    assert match_operation("POST", "/nowhere") is None


def test_texts_are_found_where_they_are_and_written_back_in_place() -> None:
    doc = orjson.loads(b'{"system": "be brief", "max_tokens": 9, "messages": ['
                       b'{"role": "user", "content": [{"type": "text", "text": "mail jo@x.io"},'
                       b'{"type": "image", "source": {"data": "AAAA"}}]},'
                       b'{"role": "assistant", "content": "ok"}]}')
    slots: list[TextSlot] = []
    collect_texts(doc, slots, frozenset({"text", "content", "system"}))
    messages = slot_messages(slots)
    assert sorted(m["content"] for m in messages) == ["be brief", "mail jo@x.io", "ok"]
    target = next(s for s in slots if s.container[s.key] == "mail jo@x.io")
    target.container[target.key] = "mail [EMAIL]"
    assert doc["messages"][0]["content"][0]["text"] == "mail [EMAIL]"
    assert slot_messages([]) == [{"role": "user", "content": ""}], "no text still gets admission"


def test_operation_labels_and_modalities() -> None:
    assert invoke_operation("amazon.titan-embed-text-v2:0", {"inputText": "x"}) == "embeddings"
    assert invoke_operation("anthropic.claude", {"messages": []}) == "chat"
    assert invoke_operation("amazon.titan-text-express-v1", {"inputText": "x"}) == "text_completion"
    assert invoke_operation("stability.sd3", {"seed": 1}) == "invoke_model"
    assert modalities_of({"messages": [{"content": [{"type": "image"}, {"type": "document"}]}]}) == (
        "document", "image", "text")
    assert modalities_of(None) == ("text",)


def test_a_bedrock_call_carries_its_model_operation_and_priceability() -> None:
    body = orjson.dumps({"modelId": "amazon.nova-reel-v1:0", "modelInput": {"text": "a cat"},
                         "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/k"}}})
    request = Request("POST", "/async-invoke", "", {"authorization": "Bearer k"}, body, 0.0, 1)
    found = match_operation("POST", "/async-invoke")
    assert found is not None
    call = parse_bedrock(request, *found)
    assert (call.ctx.model_requested, call.ctx.operation, call.priced) == (
        "amazon.nova-reel-v1:0", "start_async_invoke", False)
    assert call.ctx.messages == [{"role": "user", "content": "a cat"}] and call.body() == body

    invoke = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4000,
                           "messages": [{"role": "user", "content": "hi"}]})
    path = f"/model/{MODEL}/invoke"
    found = match_operation("POST", path)
    assert found is not None
    call = parse_bedrock(Request("POST", path, "", {}, invoke, 0.0, 1), *found)
    assert (call.ctx.model_requested, call.ctx.operation, call.priced, call.ctx.max_tokens) == (
        "anthropic.claude-3-5-haiku-20241022-v1:0", "chat", True, 4000)
    with pytest.raises(ApiError, match="JSON"):
        parse_bedrock(Request("POST", "/async-invoke", "", {}, b"{not json", 0.0, 1), *found_start())


def found_start() -> tuple[Operation, dict[str, str]]:
    found = match_operation("POST", "/async-invoke")
    assert found is not None
    return found


def test_native_usage_counts_cached_input_in_the_event_input_as_every_other_door_does() -> None:
    """Anthropic's ``usage.input_tokens`` (and Bedrock's native counts) leave the cached input out; the
    event's ``input_tokens`` includes it, so the cost (cache at its own price) and the reconciliation
    with Bedrock's logs (inputTokenCount + cache counts) see the same input as for chat."""
    usage_doc = {"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 2048,
                 "cache_creation_input_tokens": 512}
    body = {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": usage_doc}
    usage = MessagesDoor.answer(NativeResponse(200, [], orjson.dumps(body))).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (40, 2048, 512)
    assert event_input_tokens(usage) == 40 + 2048 + 512
    assert event_input_tokens(Usage(input_tokens=40)) == 40 and event_input_tokens(Usage()) is None
