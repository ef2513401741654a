from __future__ import annotations

from gateway_shim.policy.tokens import estimate_tokens_from_chars, message_text


def test_message_text_reads_strings_and_text_parts() -> None:
    assert message_text({"role": "user", "content": "hi"}) == "hi"
    parts = {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}]}
    assert message_text(parts) == "a\nb"
    assert message_text({"role": "assistant", "content": None}) == ""
    assert message_text({"role": "user"}) == ""


def test_estimate_is_about_four_characters_per_token_plus_per_message() -> None:
    assert estimate_tokens_from_chars(400, 1) == 100 + 4
    assert estimate_tokens_from_chars(4, 2) == 1 + 8
    assert estimate_tokens_from_chars(5, 1) == 2 + 4  # a started token counts
    assert estimate_tokens_from_chars(0, 0) == 0
