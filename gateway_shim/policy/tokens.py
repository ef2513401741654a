"""A cheap token estimate: about four characters per token plus a few per message.

Good enough for rate limits, the input cap and budget reservations; the provider's own count settles
the cost afterwards. It errs high for typical English so reservations rarely under-reserve.
"""

from __future__ import annotations

from gateway_shim.types import Message

PER_MESSAGE_TOKENS = 4
CHARS_PER_TOKEN = 4


def message_text(message: Message) -> str:
    """The text of one message: string content, or a list of text parts (OpenAI) or blocks (Converse,
    tool results included)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_part_texts(content))
    return ""


def _part_texts(parts: list[object]) -> list[str]:
    texts = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            texts.append(text)
        elif "toolResult" in part:
            result = part["toolResult"]
            if isinstance(result, dict) and isinstance(result.get("content"), list):
                texts.extend(_part_texts(result["content"]))
    return texts


def estimate_tokens_from_chars(chars: int, messages: int) -> int:
    """Estimated prompt tokens for ``messages`` messages holding ``chars`` characters of text."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + PER_MESSAGE_TOKENS * messages
