"""How many images a request sends, per wire format: the count a per-image price multiplies.

The front doors call these only when the request's modalities include ``image`` (a text-only request
costs nothing here). Images nested in tool results count too: providers bill them the same way.
"""

from __future__ import annotations

from typing import Any

MAX_NODES = 10_000
"""Nodes a native body walk visits at most (the body is already capped in bytes; this caps the time)."""


def openai_images(messages: list[dict[str, Any]]) -> int:
    """``image_url`` content parts across the messages of an OpenAI Chat Completions body."""
    count = 0
    for message in messages:
        content = message.get("content")
        if type(content) is list:
            count += sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")
    return count


def converse_images(messages: list[dict[str, Any]]) -> int:
    """``image`` blocks in Converse messages, including those inside ``toolResult`` content."""
    count = 0
    for message in messages:
        for block in message.get("content") or ():
            if not isinstance(block, dict):
                continue
            if "image" in block:
                count += 1
            result = block.get("toolResult")
            if isinstance(result, dict):
                inner = result.get("content") or ()
                count += sum(1 for part in inner if isinstance(part, dict) and "image" in part)
    return count


def native_images(doc: object) -> int:
    """Image blocks anywhere in a native model body: Anthropic Messages ``{"type": "image"}`` blocks,
    Converse-style ``image`` blocks (Nova) and Titan's ``inputImage``; one per object at most."""
    count = 0
    stack: list[Any] = [doc]
    seen = 0
    while stack and seen < MAX_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            if node.get("type") == "image" or "image" in node or "inputImage" in node:
                count += 1
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return count
