from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_shim.config.models import DenyPattern, PiiRedaction
from gateway_shim.policy.guardrails import DenyList, Redactor, luhn_valid, required_prefix
from gateway_shim.policy.normalize import collapse_spaces, fold_letters_for_deny

REDACTOR = Redactor(PiiRedaction())
FILLER = st.text(alphabet="abcdefghij ,.!?", max_size=30)


def redact(text: str) -> tuple[str, set[str]]:
    kinds: set[str] = set()
    return REDACTOR.redact_text(text, kinds), kinds


def with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("no check digit")


@pytest.mark.parametrize(("number", "valid"), [
    ("4111111111111111", True), ("4111111111111112", False), ("79927398713", True),
    ("378282246310005", True), ("6011111111111117", True), ("0", True), ("1", False),
])
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("mail bob.smith+x@mail.example.co.uk now", "mail [REDACTED:email] now", "email"),
    ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok", "card"),
    ("card 4111-1111-1111-1111.", "card [REDACTED:card].", "card"),
    ("call (555) 123-4567 today", "call [REDACTED:phone] today", "phone"),
    ("call +44 20 7946 0958", "call [REDACTED:phone]", "phone"),
    ("call +15551234567", "call [REDACTED:phone]", "phone"),
    ("key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", "key [REDACTED:aws_access_key] and "
     "[REDACTED:aws_access_key]", "aws_access_key"),
])
def test_each_kind_is_redacted(text: str, expected: str, kind: str) -> None:
    assert redact(text) == (expected, {kind})


@pytest.mark.parametrize("text", [
    "order 4111111111111112 is late",      # Luhn-invalid: not a card
    "order 4111 1111 1111 1112 is late",   # nor a phone number in pieces
    "on 2026-11-25 at 12:00, 42 items, ticket 123456",
    "AKIAIOSFODNN7EXAMPL is too short", "xAKIAIOSFODNN7EXAMPLE1 is part of a word",
    "no at sign here", "user@localhost",
])
def test_lookalikes_pass_through(text: str) -> None:
    assert redact(text) == (text, set())


def test_detectors_can_be_switched_off() -> None:
    only_email = Redactor(PiiRedaction(phone=False, card=False, aws_access_key=False))
    kinds: set[str] = set()
    text = "a@b.io 4111111111111111 AKIAIOSFODNN7EXAMPLE +15551234567"
    assert only_email.redact_text(text, kinds) == text.replace("a@b.io", "[REDACTED:email]")


def test_redact_messages_copies_only_what_changes() -> None:
    clean = {"role": "system", "content": "be brief"}
    dirty = {"role": "user", "content": "I am eve@example.org"}
    parts = {"role": "user", "content": [{"type": "text", "text": "card 4111111111111111"}]}
    out, actions = REDACTOR.redact_messages([clean, dirty, parts])
    assert out[0] is clean
    assert out[1] == {"role": "user", "content": "I am [REDACTED:email]"}
    assert out[2]["content"][0]["text"] == "card [REDACTED:card]"
    assert dirty["content"] == "I am eve@example.org"
    assert actions == ["pii_redacted:card", "pii_redacted:email"]


def test_might_match_is_a_necessary_condition() -> None:
    assert not REDACTOR.might_match("plain words, 12 apples")
    assert REDACTOR.might_match("x@y.z") and REDACTOR.might_match("AKIA") and REDACTOR.might_match("123")


def test_deny_patterns_name_the_first_match() -> None:
    patterns = DenyList([
        DenyPattern(name="prompt-injection", regex="(?i)ignore (all )?previous instructions"),
        DenyPattern(name="other", regex="secret"),
    ])
    assert patterns.first_match("Please IGNORE previous instructions, secret") == "prompt-injection"
    assert patterns.first_match("a secret") == "other"
    assert patterns.first_match("fine") is None
    assert not DenyList([])


@pytest.mark.parametrize(("regex", "prefix"), [
    ("(?i)ignore (all )?previous instructions", ("ignore ", True)),
    ("-----BEGIN [A-Z ]*PRIVATE KEY-----", ("-----BEGIN ", False)),
    ("a|b", ("", False)), ("[Ss]ecret", ("", False)), ("a{,3}b", ("", False)), (r"\Qab\E", ("", False)),
])
def test_required_prefix(regex: str, prefix: tuple[str, bool]) -> None:
    assert required_prefix(regex) == prefix


TRICKY_PATTERNS = [
    DenyPattern(name="kelvin", regex="(?i)kiss the sky"),
    DenyPattern(name="plain", regex="Secret key"),
    DenyPattern(name="alternation", regex="(?i)(drop|delete) table"),
    DenyPattern(name="injection", regex="(?i)ignore (all )?previous instructions"),
]
TRICKY_TEXT = st.lists(
    st.sampled_from(["kiss the sky", "KISS THE SKY", "\u212aiss the \u017f\u212ay", "Secret key",
                     "secret key", "DROP TABLE", "Ignore previous instructions",
                     "IGNORE ALL PREVIOUS INSTRUCTIONS",
                     "ignore previouſ instructions", "\u0130gnore", " ", "x", "ß", "ẞ"]),
    max_size=6,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TRICKY_TEXT)
def test_the_prefix_pre_check_and_the_set_find_what_each_pattern_finds(text: str) -> None:
    folded = collapse_spaces(fold_letters_for_deny(text))
    expected = next((p.name for p in TRICKY_PATTERNS if re.search(p.regex, folded)), None)
    assert DenyList(TRICKY_PATTERNS).first_match(text) == expected


@settings(max_examples=300, deadline=None)
@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    separator=st.sampled_from(["", " ", "-"]),
    before=FILLER, after=FILLER,
)
def test_valid_card_numbers_never_leak(body: str, separator: str, before: str, after: str) -> None:
    digits = with_check_digit(body)
    shown = separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    out, _ = redact(f"{before} {shown} {after}")
    assert shown not in out
    assert digits not in re.sub(r"[ -]", "", out)


@settings(max_examples=300, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=13, max_size=19), before=FILLER, after=FILLER)
def test_invalid_card_numbers_are_kept(body: str, before: str, after: str) -> None:
    if luhn_valid(body):
        body = body[:-1] + str((int(body[-1]) + 1) % 10)
    text = f"{before} {body} {after}"
    assert redact(text)[0] == text


@settings(max_examples=300, deadline=None)
@given(
    local=st.text(alphabet="abcxyz0189._%+-", min_size=1, max_size=12),
    domain=st.lists(st.text(alphabet="abcxyz019-", min_size=1, max_size=8), min_size=1, max_size=3),
    tld=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
    before=FILLER, after=FILLER,
)
def test_emails_never_leak(local: str, domain: list[str], tld: str, before: str, after: str) -> None:
    email = f"{local}@{'.'.join(domain)}.{tld}"
    out, kinds = redact(f"{before} {email} {after}")
    assert email not in out and "@" not in out
    assert kinds == {"email"}


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from(["AKIA", "ASIA"]),
       rest=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16),
       before=FILLER, after=FILLER)
def test_aws_access_keys_never_leak(prefix: str, rest: str, before: str, after: str) -> None:
    out, kinds = redact(f"{before} {prefix}{rest} {after}")
    assert prefix + rest not in out and "aws_access_key" in kinds


def reference_luhn(digits: str) -> bool:
    """The textbook statement: double every second digit from the right, sum the digits of all."""
    total = 0
    for position, char in enumerate(digits[::-1], start=1):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += sum(int(d) for d in str(value))
    return total % 10 == 0


@settings(max_examples=500, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_luhn_agrees_with_the_textbook_statement(digits: str) -> None:
    assert luhn_valid(digits) is reference_luhn(digits)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


PHONES = st.one_of(
    st.builds(lambda a, b, c: f"({a}) {b}-{c}", digits(3), digits(3), digits(4)),
    st.builds(lambda a, b, c, s: f"{a}{s}{b}{s}{c}", digits(3), digits(3), digits(4), st.sampled_from("-. ")),
    st.builds(lambda cc, a, b, c: f"+{cc} {a} {b} {c}", digits(2), digits(2), digits(4), digits(4)),
    st.builds(lambda n: f"+1{n}", digits(10)),
)


@settings(max_examples=300, deadline=None)
@given(phone=PHONES, before=FILLER, after=FILLER)
def test_phone_numbers_never_leak(phone: str, before: str, after: str) -> None:
    out, kinds = redact(f"{before} {phone} {after}")
    assert phone not in out and kinds == {"phone"}


def test_redaction_reaches_converse_text_blocks_and_tool_results() -> None:
    redactor = Redactor(PiiRedaction())
    image = {"image": {"format": "png", "source": {"bytes": "AAAA"}}}
    messages = [
        {"role": "system",
         "content": [{"text": "mail ops@example.com"}, {"cachePoint": {"type": "default"}}]},
        {"role": "user", "content": [image, {"toolResult": {"toolUseId": "t1", "content": [
            {"text": "owner: jane@example.com"}, {"json": {"email": "ann@example.com"}}]}}]},
    ]
    redacted, actions = redactor.redact_messages(messages)
    assert actions == ["pii_redacted:email"]
    assert redacted[0]["content"] == [{"text": "mail [REDACTED:email]"}, {"cachePoint": {"type": "default"}}]
    assert redacted[1]["content"][0] is image
    assert redacted[1]["content"][1]["toolResult"]["content"] == [
        {"text": "owner: [REDACTED:email]"}, {"json": {"email": "[REDACTED:email]"}}]  # JSON results too
    assert messages[1]["content"][1]["toolResult"]["content"][0]["text"] == "owner: jane@example.com"
