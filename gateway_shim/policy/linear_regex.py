"""RE2 patterns (matching time linear in the text) with a lean path for ASCII text.

google-re2's ``re``-style wrapper spends about 15 µs of Python bookkeeping per call (offset maps,
generators), five times the match itself on a short prompt. For ASCII text byte offsets are
character offsets, so ``LinearRegex`` calls the compiled RE2 object directly on the encoded text;
other text goes through the wrapper, which maps UTF-8 offsets back to characters.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


class LinearRegex:
    """One RE2 pattern: ``spans``, ``search`` and ``sub`` over ``str``, never backtracking."""

    __slots__ = ("_raw", "_regex")

    def __init__(self, pattern: str) -> None:
        self._regex = re2.compile(pattern)
        self._raw = self._regex._regexp

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the non-overlapping matches, leftmost first."""
        data = text.encode()
        if len(data) != len(text):
            return [match.span() for match in self._regex.finditer(text)]
        found: list[tuple[int, int]] = []
        pos, end = 0, len(data)
        while pos <= end:
            span = self._raw.Match(_UNANCHORED, data, pos, end)[0]
            if span == _NO_MATCH:
                break
            found.append(span)
            pos = span[1] if span[1] > span[0] else span[1] + 1
        return found

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in ``text``."""
        data = text.encode()
        if len(data) != len(text):
            return self._regex.search(text) is not None
        return bool(self._raw.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH)

    def sub(self, replace: Callable[[str], str], text: str) -> str:
        """``text`` with each match replaced by ``replace(match)``; the same object when none."""
        spans = self.spans(text)
        if not spans:
            return text
        pieces: list[str] = []
        kept_from = 0
        for start, end in spans:
            pieces.append(text[kept_from:start])
            pieces.append(replace(text[start:end]))
            kept_from = end
        pieces.append(text[kept_from:])
        return "".join(pieces)
