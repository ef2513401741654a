"""Counting a request's images per wire format: what a per-image price multiplies."""

from __future__ import annotations

from gateway_shim.wire.images import MAX_NODES, converse_images, native_images, openai_images

PICTURE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
BLOCK = {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
ANTHROPIC = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def test_openai_counts_image_url_parts_across_messages() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "compare"}, PICTURE, PICTURE]},
        {"role": "assistant", "content": "they differ"},
        {"role": "user", "content": [PICTURE, {"type": "input_audio", "input_audio": {}}]},
    ]
    assert openai_images(messages) == 3


def test_openai_text_only_and_odd_content_count_nothing() -> None:
    assert openai_images([{"role": "user", "content": "hi"}]) == 0
    assert openai_images([{"role": "user", "content": ["not a part", {"type": "text", "text": "x"}]}]) == 0
    assert openai_images([{"role": "user"}]) == 0


def test_converse_counts_image_blocks_including_tool_results() -> None:
    messages = [
        {"role": "user", "content": [{"text": "look"}, BLOCK, {"document": {"name": "d"}}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "snap", "input": {}}}]},
        {"role": "user",
         "content": [{"toolResult": {"toolUseId": "t1", "content": [BLOCK, {"text": "ok"}]}}]},
    ]
    assert converse_images(messages) == 2
    assert converse_images([{"role": "user", "content": [{"text": "hi"}, "junk"]}]) == 0


def test_native_bodies_count_anthropic_nova_and_titan_images() -> None:
    anthropic = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, ANTHROPIC, ANTHROPIC]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [ANTHROPIC]}]},
    ]}
    assert native_images(anthropic) == 3
    assert native_images({"messages": [{"role": "user", "content": [BLOCK, {"text": "x"}]}]}) == 1
    assert native_images({"inputText": "a cat", "inputImage": "iVBORw0KGgo="}) == 1
    assert native_images({"prompt": "no picture"}) == 0
    assert native_images(None) == 0


def test_a_native_walk_is_bounded() -> None:
    flat = [{"inputImage": "iVBORw0KGgo="}] * (MAX_NODES * 2)
    assert native_images(flat) == MAX_NODES - 1  # the list itself is the first node visited
