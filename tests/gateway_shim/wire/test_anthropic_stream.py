"""Reading Bedrock's Anthropic answers: chunks decoded from real event-stream frames, usage and tool
calls tallied from whole messages and from stream events."""

from __future__ import annotations

import base64

import orjson

from gateway_shim.wire.anthropic_stream import ChunkReader, MessageTally
from gateway_shim.wire.eventstream import encode_event, encode_exception


def chunk(event: dict[str, object]) -> bytes:
    return encode_event("chunk", orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()}))


def test_chunks_split_anywhere_decode_in_order() -> None:
    frames = (chunk({"type": "message_start"}) + chunk({"type": "message_stop"})
              + encode_exception("throttlingException", b'{"message":"slow down"}'))
    reader = ChunkReader()
    seen = []
    for i in range(0, len(frames), 7):  # bytes arrive in arbitrary pieces
        seen.extend(reader.feed(frames[i:i + 7]))
    assert seen == [("chunk", {"type": "message_start"}), ("chunk", {"type": "message_stop"}),
                    ("throttlingException", {"message": "slow down"})]


def test_a_stream_tallies_usage_tool_calls_and_text() -> None:
    tally = MessageTally()
    events = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1,
                                                        "cache_read_input_tokens": 8,
                                                        "cache_creation_input_tokens": 2}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hel"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "name": "f"}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "message_delta", "usage": {"output_tokens": 30}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 12,
                                                                      "outputTokenCount": 31}},
    ]
    text = "".join(tally.read_event(event) for event in events)
    assert text == "hel{}"
    assert (tally.input_tokens, tally.output_tokens, tally.cache_read_tokens, tally.cache_write_tokens,
            tally.tool_calls) == (12, 31, 8, 2, 1)


def test_a_whole_message_tallies_the_same_way() -> None:
    tally = MessageTally()
    text = tally.read_message({"content": [{"type": "text", "text": "hi"},
                                           {"type": "tool_use", "name": "f", "input": {"q": 1}}],
                               "usage": {"input_tokens": 5, "output_tokens": 7}})
    assert text == 'hi\n{"q":1}'
    assert (tally.input_tokens, tally.output_tokens, tally.cache_read_tokens) == (5, 7, None)
    assert tally.tool_calls == 1
    assert MessageTally().read_message("not a message") == ""
