"""Prompt and answer guardrails: PII redaction, deny patterns, output validation.

Redaction replaces each finding with ``[REDACTED:<kind>]`` and reports ``pii_redacted:<kind>`` once
per kind. Card numbers are redacted only when Luhn-valid (order numbers and IDs pass through).
Each detector runs only when a cheap substring check says it could match ('@' for emails, 'AKIA' or
'ASIA' for AWS keys, three digits in a row for phones and cards), so clean prompts cost almost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway_shim.config.models import DenyPattern, PiiRedaction
from gateway_shim.policy.tokens import message_text
from gateway_shim.types import Message

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
AWS_ACCESS_KEY = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}"
    r"(?!\w)(?![ .-]\d)"
    r"|(?<![\w+])\+\d{10,14}(?!\w)"
)
_THREE_DIGITS = re.compile(r"\d\d\d")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers have 13 to 19)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_or_keep(match: re.Match[str]) -> str:
    digits = match.group().replace(" ", "").replace("-", "")
    return "[REDACTED:card]" if luhn_valid(digits) else match.group()


def compile_patterns(patterns: Sequence[DenyPattern]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((p.name, re.compile(p.regex)) for p in patterns)


def first_denied(patterns: Sequence[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    """The name of the first deny pattern found in ``text``."""
    for name, pattern in patterns:
        if pattern.search(text) is not None:
            return name
    return None


class Redactor:
    """PII redaction with the detectors the config switches on."""

    __slots__ = ("_aws", "_card", "_email", "_phone")

    def __init__(self, settings: PiiRedaction) -> None:
        self._email = settings.email
        self._phone = settings.phone
        self._card = settings.card
        self._aws = settings.aws_access_key

    def might_match(self, text: str) -> bool:
        """A cheap necessary condition for ``redact_text`` to change anything."""
        return (
            (self._email and "@" in text)
             or (self._aws and ("AKIA" in text or "ASIA" in text))
             or ((self._card or self._phone) and _THREE_DIGITS.search(text) is not None)
        )

    def redact_text(self, text: str, kinds: set[str]) -> str:
        """``text`` with findings replaced; adds the kinds found to ``kinds``."""
        if self._email and "@" in text:
            text, count = EMAIL.subn("[REDACTED:email]", text)
            if count:
                kinds.add("email")
        if self._aws and ("AKIA" in text or "ASIA" in text):
            text, count = AWS_ACCESS_KEY.subn("[REDACTED:aws_access_key]", text)
            if count:
                kinds.add("aws_access_key")
        if (self._card or self._phone) and _THREE_DIGITS.search(text) is not None:
            if self._card:
                redacted = CARD.sub(_card_or_keep, text)
                if redacted != text:
                    kinds.add("card")
                    text = redacted
            if self._phone:
                text, count = PHONE.subn("[REDACTED:phone]", text)
                if count:
                    kinds.add("phone")
        return text

    def redact_messages(self, messages: list[Message]) -> tuple[list[Message], list[str]]:
        """Messages with PII redacted (copies only of those changed) and ``pii_redacted:<kind>`` actions."""
        kinds: set[str] = set()
        out: list[Message] = []
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                redacted = self.redact_text(content, kinds)
                out.append(message if redacted is content else {**message, "content": redacted})
            elif isinstance(content, list):
                parts = [
                    {**part, "text": self.redact_text(part["text"], kinds)}
                    if isinstance(part, dict) and isinstance(part.get("text"), str) else part
                    for part in content
                ]
                out.append({**message, "content": parts})
            else:
                out.append(message)
        return out, [f"pii_redacted:{kind}" for kind in sorted(kinds)]


def texts_of(messages: Sequence[Message]) -> list[str]:
    return [message_text(m) for m in messages]
