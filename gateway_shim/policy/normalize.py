"""Text folding before the guardrails scan, so look-alike spellings cannot step around a pattern.

``fold_for_redaction``: NFKC (fullwidth letters and digits, ``＠``, ligatures and odd spaces become
their plain forms), zero-width and soft-hyphen characters removed, every Unicode decimal digit
(Arabic-Indic, Devanagari, ...) turned into its ASCII digit. ``fold_letters_for_deny`` also maps the common
Cyrillic and Greek look-alikes of Latin letters to Latin, and ``collapse_spaces`` turns each run of
whitespace into one space; deny patterns read both, and that text is never sent upstream (it would
garble Cyrillic).
ASCII text (the usual prompt) skips the Unicode work entirely.
"""

from __future__ import annotations

import unicodedata

import re2

from gateway_shim.policy.linear_regex import LinearRegex

ZERO_WIDTH = ("\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f"
              "\u2060\u2061\u2062\u2063\u2064\ufeff")

# Decimal digits live in blocks of ten starting at a zero; planes 0 and 1 hold all of them.
_ZEROS = [cp for cp in range(0x20000) if unicodedata.decimal(chr(cp), None) == 0 and cp != 0x30]
_UNICODE_FOLD: dict[int, str | None] = {
    cp + d: str(d) for cp in _ZEROS for d in range(10) if unicodedata.decimal(chr(cp + d), None) == d
}
_UNICODE_FOLD.update(dict.fromkeys(map(ord, ZERO_WIDTH)))

# Cyrillic and Greek letters drawn like Latin ones (the common part of Unicode's confusables list).
_LOOKALIKES = {
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ɡ": "g", "ᴠ": "v", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "ι": "i", "κ": "k", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
_LOOKALIKE_FOLD = {ord(k): v for k, v in _LOOKALIKES.items()}

_NEEDS_FOLD = re2.compile("[" + "".join(re2.escape(chr(cp)) for cp in sorted(_UNICODE_FOLD)) + "]")
_HAS_LOOKALIKE = re2.compile("[" + "".join(re2.escape(ch) for ch in sorted(_LOOKALIKES)) + "]")
_SPACES = LinearRegex(r"\s{2,}|[\t\n\f\r\v]")


def _one_space(found: str) -> str:
    return " "


def fold_for_redaction(text: str) -> str:
    """What the PII detectors read (and what is sent upstream when something was redacted)."""
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if _NEEDS_FOLD.search(text) is not None:
        text = text.translate(_UNICODE_FOLD)
    return text


def fold_letters_for_deny(text: str) -> str:
    """The redaction fold plus Latin look-alikes (whitespace untouched)."""
    text = fold_for_redaction(text)
    if not text.isascii() and _HAS_LOOKALIKE.search(text) is not None:
        text = text.translate(_LOOKALIKE_FOLD)
    return text


def collapse_spaces(text: str) -> str:
    """Each run of whitespace as one space (only non-whitespace characters keep their neighbours)."""
    return _SPACES.sub(_one_space, text)
