"""Price-of-the-day maths: each request is costed at the price in force on the UTC day of its ``ts``."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Mapping, Sequence

from gateway_shim.config.models import Price

MICROS_PER_DAY = 86_400_000_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def epoch_day(ts_us: int) -> int:
    """Days since 1970-01-01 (UTC) of an epoch-microsecond timestamp."""
    return ts_us // MICROS_PER_DAY


def day_of(epoch_days: int) -> dt.date:
    return dt.date.fromordinal(_EPOCH_ORDINAL + epoch_days)


def month_key(epoch_days: int) -> int:
    """year * 12 + (month - 1): consecutive integers for consecutive months."""
    day = day_of(epoch_days)
    return day.year * 12 + day.month - 1


def month_end_us(month: int) -> int:
    """Epoch microseconds at the start of the month after ``month`` (a ``month_key``)."""
    year, index = divmod(month + 1, 12)
    return (dt.date(year, index + 1, 1).toordinal() - _EPOCH_ORDINAL) * MICROS_PER_DAY


class PriceBook:
    """USD per token for every priced model on any day, from the config's ``pricing`` section."""

    __slots__ = ("_days", "_rates")

    def __init__(self, pricing: Mapping[str, Sequence[Price]]) -> None:
        self._days: dict[str, list[int]] = {}
        self._rates: dict[str, list[tuple[float, float]]] = {}
        for model, prices in pricing.items():
            ordered = sorted(prices, key=lambda p: p.effective_from)
            self._days[model] = [p.effective_from.toordinal() - _EPOCH_ORDINAL for p in ordered]
            self._rates[model] = [(p.input_per_mtok / 1e6, p.output_per_mtok / 1e6) for p in ordered]

    def rates(self, model: str, epoch_days: int) -> tuple[float, float] | None:
        """(USD per input token, USD per output token) in force on that day; ``None`` if unpriced."""
        days = self._days.get(model)
        if days is None:
            return None
        index = bisect_right(days, epoch_days) - 1
        return self._rates[model][index] if index >= 0 else None

    def cost(self, model: str, epoch_days: int, input_tokens: int, output_tokens: int) -> float:
        """USD for one call; 0.0 for a model without a price in force (never raises on the hot path)."""
        rates = self.rates(model, epoch_days)
        if rates is None:
            return 0.0
        return input_tokens * rates[0] + output_tokens * rates[1]
