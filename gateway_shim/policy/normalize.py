"""Text folding before the guardrails scan, so look-alike spellings cannot step around a pattern.

``fold_for_redaction``: NFKC (fullwidth letters and digits, ``＠``, ligatures and odd spaces become
their plain forms), zero-width and soft-hyphen characters removed, every Unicode decimal digit
(Arabic-Indic, Devanagari, ...) turned into its ASCII digit. ``fold_letters_for_deny`` also maps the common
Cyrillic and Greek look-alikes of Latin letters to Latin, and ``collapse_spaces`` turns each run of
whitespace into one space; deny patterns read both, and that text is never sent upstream (it would
garble Cyrillic).
ASCII text (the usual prompt) skips the Unicode work entirely. Long non-ASCII text is folded in
slices of about ``SLICE_CHARS`` characters (``slices``), cut only where NFKC gives the same result
as on the whole text, so that no single C call holds the GIL for long while a worker thread screens a
large prompt (``unicodedata.normalize`` takes about 15 ms per million fullwidth characters).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from functools import cache

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


SLICE_CHARS = 65_536
"""Non-ASCII text longer than this is folded slice by slice (about 1 ms of GIL per slice)."""
_BOUNDARY_SEARCH = 64
"""How far past a slice's nominal end a boundary is looked for; a longer run of combining marks
(only ever an attack) is cut where the search ends, as the Stream-Safe Text Format does after 30."""
# Hangul vowel and trailing-consonant jamo compose with what precedes them algorithmically.
_HANGUL_BACKWARD = frozenset(chr(cp) for cp in (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)))


@cache
def _backward_combining() -> frozenset[str]:
    """Starters that canonical composition can merge into the character before them (NFC_QC=Maybe)."""
    found = set(_HANGUL_BACKWARD)
    for cp in range(0x30000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second = chr(int(parts[1], 16))
            if unicodedata.normalize("NFC", chr(int(parts[0], 16)) + second) == chr(cp):
                found.add(second)
    return frozenset(ch for ch in found if unicodedata.combining(ch) == 0)


def _boundary_before(ch: str) -> bool:
    """Whether NFKC of a text equals NFKC of its two halves joined when cut right before ``ch``:
    ``ch`` decomposes to a starter (combining class 0) that never composes with what precedes it."""
    first = unicodedata.normalize("NFKD", ch)[:1] or ch
    return unicodedata.combining(first) == 0 and first not in _backward_combining()


def slices(text: str, size: int = SLICE_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of about ``size`` characters, each cut at an NFKC boundary."""
    start, length = 0, len(text)
    while length - start > size:
        cut = start + size
        limit = min(cut + _BOUNDARY_SEARCH, length)
        while cut < limit and not _boundary_before(text[cut]):
            cut += 1
        yield text[start:cut]
        start = cut
    yield text[start:]


def in_slices(change: Callable[[str], str], text: str) -> str:
    """``change`` (NFKC-safe: per character, or a normalisation) applied slice by slice."""
    if len(text) <= SLICE_CHARS:
        return change(text)
    return "".join(change(piece) for piece in slices(text))


def _one_space(found: str) -> str:
    return " "


def fold_for_redaction(text: str) -> str:
    """What the PII detectors read (and what is sent upstream when something was redacted)."""
    if text.isascii():
        return text
    if len(text) > SLICE_CHARS:
        return in_slices(_fold_non_ascii, text)
    return _fold_non_ascii(text)


def _fold_non_ascii(text: str) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if _NEEDS_FOLD.search(text) is not None:
        text = text.translate(_UNICODE_FOLD)
    return text


def fold_letters_for_deny(text: str) -> str:
    """The redaction fold plus Latin look-alikes (whitespace untouched)."""
    text = fold_for_redaction(text)
    if not text.isascii() and _HAS_LOOKALIKE.search(text) is not None:
        text = in_slices(_fold_lookalikes, text)
    return text


def _fold_lookalikes(text: str) -> str:
    return text.translate(_LOOKALIKE_FOLD)


def collapse_spaces(text: str) -> str:
    """Each run of whitespace as one space (only non-whitespace characters keep their neighbours)."""
    return _SPACES.sub(_one_space, text)
