"""Small pure measurements over client records and telemetry rows: percentiles, rates, windows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

SHED_STATUSES = (429, 503)


class Timed(Protocol):
    @property
    def t(self) -> float: ...


T = TypeVar("T", bound=Timed)


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0-100); ``None`` for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def share(items: Sequence[T], predicate: Callable[[T], bool]) -> float | None:
    """The fraction of ``items`` matching ``predicate``; ``None`` when there are none."""
    if not items:
        return None
    return sum(1 for item in items if predicate(item)) / len(items)


def between(items: Iterable[T], start: float, end: float) -> list[T]:
    """Items whose ``t`` is in ``[start, end)``."""
    return [item for item in items if start <= item.t < end]


class Answered(Protocol):
    @property
    def t(self) -> float: ...

    @property
    def done(self) -> float: ...


AnsweredT = TypeVar("AnsweredT", bound=Answered)


def inside(items: Iterable[AnsweredT], start: float, end: float) -> list[AnsweredT]:
    """Items sent at or after ``start`` and answered by ``end``: wholly inside one fault phase, so
    a request that straddles a fault change (sent before it was live, or answered after the next
    change may have been) is judged by neither phase."""
    return [item for item in items if start <= item.t and item.done <= end]


def histogram_gap(left: Counter[tuple[str, int]], right: Counter[tuple[str, int]]) -> float:
    """How far two (lane, status) histograms disagree: summed absolute differences over the larger total."""
    total = max(sum(left.values()), sum(right.values()))
    if total == 0:
        return 0.0
    keys = set(left) | set(right)
    return sum(abs(left[k] - right[k]) for k in keys) / total


def settle_time(items: Sequence[T], start: float, end: float, bad: Callable[[T], bool]) -> float | None:
    """Seconds from ``start`` until the last ``bad`` item in ``[start, end)`` (0 when there is none).

    ``None`` when the last bad item is in the final second before ``end``: the run ended before it
    was clear that things had settled.
    """
    window = between(items, start, end)
    bad_times = [item.t for item in window if bad(item)]
    if not bad_times:
        return 0.0
    last = max(bad_times)
    if end - last < 1.0:
        return None
    return last - start
