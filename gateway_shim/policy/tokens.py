"""A cheap token estimate: about four characters per token plus a few per message.

Good enough for rate limits, the input cap and budget reservations; the provider's own count settles
the cost afterwards. It errs high for typical English so reservations rarely under-reserve.
"""

from __future__ import annotations

from gateway_shim.types import Message

PER_MESSAGE_TOKENS = 4
CHARS_PER_TOKEN = 4


def message_text(message: Message) -> str:
    """The text of one OpenAI-style message (string content or a list of text parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def estimate_tokens_from_chars(chars: int, messages: int) -> int:
    """Estimated prompt tokens for ``messages`` messages holding ``chars`` characters of text."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + PER_MESSAGE_TOKENS * messages
