"""Prompt and answer guardrails: PII redaction, deny patterns, output validation, in linear time.

Every pattern runs on RE2 (``google-re2``), whose matching time is linear in the text whatever the
pattern, so no prompt can hold the event loop the way a backtracking engine can (``(a+)+$``).
Text is folded first (``gateway_shim.policy.normalize``) so fullwidth forms, zero-width characters,
other scripts' digits and Latin look-alikes match like their plain spelling. Every text-bearing field
of a message is read: ``content`` strings and parts, ``name``, tool-call arguments, tool results and
Converse blocks; binary payloads (images, audio, files) and identifiers are not.

Redaction replaces each finding with ``[REDACTED:<kind>]`` and reports ``pii_redacted:<kind>`` once
per kind; a string with a finding goes upstream in its folded form. Card numbers are redacted only
when Luhn-valid (order numbers and IDs pass through).
"""

from __future__ import annotations

import re
import re._constants as _sre_constants
import re._parser as _sre_parser
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import re2

from gateway_shim.config.models import DenyPattern, PiiRedaction
from gateway_shim.policy.linear_regex import LinearRegex
from gateway_shim.policy.normalize import (
    collapse_spaces,
    fold_for_redaction,
    fold_letters_for_deny,
    in_slices,
)
from gateway_shim.types import Message

MAX_DEPTH = 16
"""Nesting depth of a message (dicts and lists) the scan follows; deeper messages are refused."""

SKIPPED_KEYS = frozenset({
    "role", "type", "id", "tool_call_id", "toolUseId", "status", "format", "detail", "mime_type",
    "media_type", "image_url", "input_audio", "file", "image", "document", "video", "source", "bytes",
    "cachePoint", "signature", "redacted_thinking",
})
"""Keys whose values are identifiers, enumerations or binary payloads, never free text."""

EMAIL = LinearRegex(r"[A-Za-z0-9._%+-]+ {0,3}@ {0,3}[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# RE2 has no lookarounds: find the whole alphanumeric run around the prefix, then check its shape.
_AWS_RUN = LinearRegex(r"[A-Za-z0-9]*(?:AKIA|ASIA)[A-Za-z0-9]*")
_AWS_KEY = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")
# A run of digits with up to three separators between neighbours; split into groups at separators.
_DIGIT_RUN = LinearRegex(r"\d(?:[ .\-]{0,3}\d)*")
_DIGIT_GROUP = re.compile(r"\d+")
_SEPARATORS = str.maketrans("", "", " .-")
CARD_DIGITS = (13, 19)
_EXHAUSTIVE_RUN_DIGITS = 64
"""Runs longer than this are searched with vectorised prefix sums instead of a Python loop."""
# Phone shapes (RE2) locate candidates; the boundary rules (no digit or word right before or after)
# are checked by the lookaround pattern inside a window of at most ~30 characters around each one.
_PHONE_SHAPE = LinearRegex(
    r"\+\d{1,3}[ .-]?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}"
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{2,4}[ .-]\d{3,4}[ .-]?\d{3,4}|\+\d{10,14}"
)
_PHONE_END = r"(?!\w)(?![ .-]\d)"
_PHONE = re.compile(
    r"\+(?<![\w+]\+)(?<!\d[ .-]\+)\d{1,3}[ .-]?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}"
    + _PHONE_END
    + r"|\((?<![\w+]\()(?<!\d[ .-]\()\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}" + _PHONE_END
    + r"|\d(?<![\w+]\d)(?<!\d[ .-]\d)\d{1,3}[ .-]\d{3,4}[ .-]?\d{3,4}" + _PHONE_END
    + r"|\+(?<![\w+]\+)\d{10,14}(?!\w)"
)
_THREE_DIGITS = LinearRegex(r"\d\d\d")
_DOUBLED = str.maketrans("0123456789", "0246813579")


def _has_digit(text: str) -> bool:
    """Ten substring searches (memchr-fast) beat one regex scan on long digit-free prompts."""
    return ("0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text
            or "6" in text or "7" in text or "8" in text or "9" in text)


def _digit_count(text: str) -> int:
    return sum(text.count(digit) for digit in "0123456789")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits (card numbers have 13 to 19)."""
    reverse = digits[::-1]
    kept = reverse[0::2].encode()
    doubled = reverse[1::2].translate(_DOUBLED).encode()
    return (sum(kept) + sum(doubled) - 48 * len(digits)) % 10 == 0


def required_prefix(regex: str) -> tuple[str, bool]:
    """The literal every match starts with, and whether it is case-insensitive ("" when none).

    Read from the pattern's leading literal nodes as Python's parser sees them; anything it cannot
    parse or any unusual start gives "" (no pre-check, the pattern always runs).
    """
    try:
        parsed = _sre_parser.parse(regex)
    except (re.error, RecursionError, AttributeError, TypeError, OverflowError):
        return "", False
    prefix = []
    for op, value in parsed.data:
        if op is not _sre_constants.LITERAL:
            break
        prefix.append(chr(value))
    return "".join(prefix), bool(parsed.state.flags & re.IGNORECASE)


class DenyList:
    """Named deny patterns, matched together in one linear pass (an RE2 set) over the folded text.

    When every pattern has a literal prefix of at least ``MIN_PREFIX`` characters before any
    whitespace and none of them occurs in the text (casefolded for case-insensitive patterns:
    ``str.casefold`` folds at least every pair RE2's case folding treats as equal), the set does not
    run: clean prompts cost a few substring searches. The prefixes stop at whitespace so the check
    can run before whitespace runs are collapsed (collapsing never joins other characters).
    """

    __slots__ = ("_fold_text", "_names", "_prefixes", "_set")

    MIN_PREFIX = 3

    def __init__(self, patterns: Sequence[DenyPattern]) -> None:
        self._names = tuple(p.name for p in patterns)
        self._set: Any = None
        prefixes: list[tuple[str, bool]] = []
        for pattern in patterns:
            prefix, ignore_case = required_prefix(pattern.regex)
            prefix = prefix.split(maxsplit=1)[0] if prefix[:1].strip() else ""
            prefixes.append((prefix.casefold() if ignore_case else prefix, ignore_case))
        usable = all(len(prefix) >= self.MIN_PREFIX for prefix, _ in prefixes)
        self._prefixes: tuple[tuple[str, bool], ...] | None = tuple(prefixes) if usable else None
        self._fold_text = any(ignore_case for _, ignore_case in prefixes)
        if patterns:
            options = re2.Options()
            options.log_errors = False
            self._set = re2.Set.SearchSet(options)
            for pattern in patterns:
                self._set.Add(pattern.regex)
            self._set.Compile()

    def __bool__(self) -> bool:
        return bool(self._names)

    def first_match(self, text: str) -> str | None:
        """The name of the first configured pattern found in the folded ``text``."""
        if self._set is None:
            return None
        text = fold_letters_for_deny(text)
        if self._prefixes is not None:
            folded = in_slices(str.casefold, text) if self._fold_text else text
            if not any(prefix in (folded if ignore_case else text) for prefix, ignore_case in self._prefixes):
                return None
        found = self._set.Match(collapse_spaces(text))
        return self._names[min(found)] if found else None


def message_strings(message: object) -> list[str] | None:
    """Every free-text string of a message, or ``None`` when it nests deeper than ``MAX_DEPTH``."""
    out: list[str] = []
    stack: list[tuple[object, int]] = [(message, 0)]
    while stack:
        value, depth = stack.pop()
        if type(value) is str:
            out.append(value)
        elif depth >= MAX_DEPTH and isinstance(value, dict | list):
            return None
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for k, v in value.items() if k not in SKIPPED_KEYS)
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return out


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to each free-text string; unchanged parts are not copied."""
    if type(value) is str:
        return change(value)
    if isinstance(value, dict):
        out = {k: v if k in SKIPPED_KEYS else _map_strings(v, change) for k, v in value.items()}
        return value if all(out[k] is v for k, v in value.items()) else out
    if isinstance(value, list):
        items = [_map_strings(v, change) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


class Redactor:
    """PII redaction with the detectors the config switches on."""

    __slots__ = ("_aws", "_card", "_email", "_phone")

    def __init__(self, settings: PiiRedaction) -> None:
        self._email = settings.email
        self._phone = settings.phone
        self._card = settings.card
        self._aws = settings.aws_access_key

    def might_match(self, text: str) -> bool:
        """A cheap necessary condition for ``redact_text`` to change anything (``text`` folded)."""
        return (
            (self._email and "@" in text)
            or (self._aws and ("AKIA" in text or "ASIA" in text))
            or (self._card and _has_digit(text) and _digit_count(text) >= CARD_DIGITS[0])
            or (self._phone and _has_digit(text) and _THREE_DIGITS.search(text))
        )

    def redact_text(self, text: str, kinds: set[str]) -> str:
        """``text`` with findings replaced (in its folded form); adds the kinds found to ``kinds``."""
        folded = fold_for_redaction(text)
        redacted = folded
        if self._email and "@" in redacted:
            replaced = EMAIL.sub(_as_email, redacted)
            if replaced is not redacted:
                kinds.add("email")
                redacted = replaced
        if self._aws and ("AKIA" in redacted or "ASIA" in redacted):
            replaced = _AWS_RUN.sub(_aws_or_keep, redacted)
            if replaced != redacted:
                kinds.add("aws_access_key")
                redacted = replaced
        if self._card and _has_digit(redacted) and _digit_count(redacted) >= CARD_DIGITS[0]:
            replaced = _DIGIT_RUN.sub(_cards_in_run, redacted)
            if replaced != redacted:
                kinds.add("card")
                redacted = replaced
        if self._phone and _has_digit(redacted) and _THREE_DIGITS.search(redacted):
            replaced = _redact_phones(redacted)
            if replaced != redacted:
                kinds.add("phone")
                redacted = replaced
        return text if redacted == folded else redacted

    def redact_messages(self, messages: list[Message]) -> tuple[list[Message], list[str]]:
        """Messages with PII redacted (copies only of those changed) and ``pii_redacted:<kind>`` actions."""
        kinds: set[str] = set()

        def change(text: str) -> str:
            return self.redact_text(text, kinds)

        out = [_map_strings(message, change) for message in messages]
        return out, [f"pii_redacted:{kind}" for kind in sorted(kinds)]


def _as_email(found: str) -> str:
    return "[REDACTED:email]"


def _aws_or_keep(run: str) -> str:
    return "[REDACTED:aws_access_key]" if len(run) == 20 and _AWS_KEY.fullmatch(run) else run


def _cards_in_run(run: str) -> str:
    """The run with each Luhn-valid 13-19 digit stretch of whole groups replaced."""
    digits = run.translate(_SEPARATORS)
    low, high = CARD_DIGITS
    if len(digits) < low:
        return run
    if len(digits) <= high and luhn_valid(digits):
        return "[REDACTED:card]"
    if len(digits) <= high and run.isdigit():
        return run
    chosen = card_stretches_vectorised(run) if len(digits) > _EXHAUSTIVE_RUN_DIGITS else card_stretches(run)
    if not chosen:
        return run
    pieces: list[str] = []
    kept_from = 0
    for start, end in chosen:
        pieces.append(run[kept_from:start])
        pieces.append("[REDACTED:card]")
        kept_from = end
    pieces.append(run[kept_from:])
    return "".join(pieces)


def card_stretches(run: str) -> list[tuple[int, int]]:
    """Character spans of the chosen card stretches: the leftmost start with a valid stretch, its
    longest valid stretch, then on after it."""
    low, high = CARD_DIGITS
    spans = [m.span() for m in _DIGIT_GROUP.finditer(run)]
    chosen: list[tuple[int, int]] = []
    start = 0
    while start < len(spans):
        found = None
        total, joined = 0, ""
        for end in range(start, len(spans)):
            group = run[spans[end][0]:spans[end][1]]
            if total + len(group) > high:
                break
            total, joined = total + len(group), joined + group
            if total >= low and luhn_valid(joined):
                found = end
        if found is None:
            start += 1
            continue
        chosen.append((spans[start][0], spans[found][1]))
        start = found + 1
    return chosen


_DOUBLE = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int32)


_WINDOW_CHARS = 65_536
"""Characters of a long digit run whose stretches one vectorised pass searches: each numpy call then
handles at most this many (a fraction of a millisecond of GIL) instead of a whole megabyte."""
_SEPARATOR_CHARS = " .-"


def _next_group(run: str, pos: int) -> int:
    """Where the first digit group starting at or after ``pos`` begins (``len(run)``: none)."""
    found = [i for i in (run.find(sep, pos) for sep in _SEPARATOR_CHARS) if i >= 0]
    if not found:
        return len(run)
    pos = min(found)
    while pos < len(run) and run[pos] in _SEPARATOR_CHARS:
        pos += 1
    return pos


def card_stretches_vectorised(run: str, window_chars: int = _WINDOW_CHARS) -> list[tuple[int, int]]:
    """``card_stretches`` for long runs: every stretch's Luhn sum from prefix sums, vectorised, window
    by window: the stretches starting in a window of about ``window_chars`` characters (cut where a
    digit group starts) are searched in it plus the 18 groups after it (a stretch spans at most 19)."""
    high = CARD_DIGITS[1]
    chosen: list[tuple[int, int]] = []
    free_from = 0
    start = 0
    while start < len(run):
        stop = _next_group(run, start + window_chars) if start + window_chars < len(run) else len(run)
        end = stop
        for _ in range(high - 1):
            if end >= len(run):
                break
            end = _next_group(run, end)
        piece = run[start:end]
        piece_starts, piece_ends, longest = _longest_stretches(piece)
        for group in np.flatnonzero(longest >= 0).tolist():
            begin = start + int(piece_starts[group])
            if begin >= stop:
                break
            if begin < free_from:
                continue
            free_from = start + int(piece_ends[int(longest[group])])
            chosen.append((begin, free_from))
        start = stop
    return chosen


def _groups(run: str) -> tuple[Any, Any]:
    """Character offsets where each digit group starts and ends (one past its last digit)."""
    chars = np.frombuffer(run.encode("ascii"), dtype=np.uint8)
    is_digit = (chars >= 48) & (chars <= 57)
    before = np.concatenate(([False], is_digit[:-1]))
    after = np.concatenate((is_digit[1:], [False]))
    return np.flatnonzero(is_digit & ~before), np.flatnonzero(is_digit & ~after) + 1


def _longest_stretches(run: str) -> tuple[Any, Any, Any]:
    """The run's group starts and ends, and for each group the last group of the longest valid card
    stretch starting there (-1: none)."""
    low, high = CARD_DIGITS
    group_starts, group_ends = _groups(run)
    chars = np.frombuffer(run.encode("ascii"), dtype=np.uint8)
    # Digit index where each group starts (and one past the last digit).
    bounds = np.concatenate(([0], np.cumsum(group_ends - group_starts))).astype(np.int32)
    values = chars[(chars >= 48) & (chars <= 57)].astype(np.int32) - 48
    even = (np.arange(len(values)) % 2 == 0)
    doubled = _DOUBLE[values]
    # Luhn keeps the last digit, doubles the one before, and so on: a stretch ending on an even
    # index sums plain even-index digits and doubled odd-index ones, and the other way round.
    # Only the sums' last digits matter: a stretch is valid when its end and start prefix sums agree
    # modulo 10, so compare small int8 residues instead of subtracting and taking remainders.
    ends_even = (np.concatenate(([0], np.cumsum(np.where(even, values, doubled))))[bounds] % 10)
    ends_odd = (np.concatenate(([0], np.cumsum(np.where(even, doubled, values))))[bounds] % 10)
    ends_even, ends_odd = ends_even.astype(np.int8), ends_odd.astype(np.int8)
    stop_even = (bounds - 1) % 2 == 0
    residues = np.where(stop_even, ends_even, ends_odd)
    groups = len(group_starts)
    longest = np.full(groups, -1, dtype=np.int64)
    for extra in range(min(high, groups)):
        count = bounds[extra + 1:] - bounds[:groups - extra]
        fits = (count >= low) & (count <= high)
        if not fits.any():
            if (count > high).all():
                break
            continue
        # The stretch's parity comes from its last digit: start sums of that same parity apply.
        starts = np.where(stop_even[extra + 1:], ends_even[:groups - extra], ends_odd[:groups - extra])
        first = np.flatnonzero(fits & (residues[extra + 1:] == starts))
        longest[first] = first + extra
    return group_starts, group_ends, longest


def _phone_candidates(text: str) -> Iterator[tuple[int, int]]:
    for start, end in _PHONE_SHAPE.spans(text):
        found = _PHONE.search(text, start, end + 2)
        if found is not None:
            yield found.span()


def _redact_phones(text: str) -> str:
    pieces: list[str] = []
    kept_from = 0
    for start, end in _phone_candidates(text):
        if start < kept_from:
            continue
        pieces.append(text[kept_from:start])
        pieces.append("[REDACTED:phone]")
        kept_from = end
    if not pieces:
        return text
    pieces.append(text[kept_from:])
    return "".join(pieces)
