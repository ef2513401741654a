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

    __slots__ = ("_days", "_details", "_rates")

    def __init__(self, pricing: Mapping[str, Sequence[Price]]) -> None:
        self._days: dict[str, list[int]] = {}
        self._rates: dict[str, list[tuple[float, float]]] = {}
        self._details: dict[str, list[tuple[float, float, float, float]]] = {}
        for model, prices in pricing.items():
            ordered = sorted(prices, key=lambda p: p.effective_from)
            self._days[model] = [p.effective_from.toordinal() - _EPOCH_ORDINAL for p in ordered]
            self._rates[model] = [(p.input_per_mtok / 1e6, p.output_per_mtok / 1e6) for p in ordered]
            self._details[model] = [
                ((p.input_per_mtok if p.cache_read_per_mtok is None else p.cache_read_per_mtok) / 1e6,
                 (p.input_per_mtok if p.cache_write_per_mtok is None else p.cache_write_per_mtok) / 1e6,
                 p.per_request_usd, p.input_image_usd)
                for p in ordered]

    def _index(self, model: str, epoch_days: int) -> int:
        days = self._days.get(model)
        if days is None:
            return -1
        return bisect_right(days, epoch_days) - 1

    def rates(self, model: str, epoch_days: int) -> tuple[float, float] | None:
        """(USD per input token, USD per output token) in force on that day; ``None`` if unpriced."""
        index = self._index(model, epoch_days)
        return self._rates[model][index] if index >= 0 else None

    def fees(self, model: str, epoch_days: int) -> tuple[float, float] | None:
        """(USD per request, USD per input image) in force on that day; ``None`` if unpriced."""
        index = self._index(model, epoch_days)
        return self._details[model][index][2:] if index >= 0 else None

    def cost(self, model: str, epoch_days: int, input_tokens: int, output_tokens: int,
             cache_read_tokens: int = 0, cache_write_tokens: int = 0, input_images: int = 0) -> float:
        """USD for one call; 0.0 for a model without a price in force (never raises on the hot path).
        ``input_tokens`` includes the cache reads and writes, which are priced at their own rates;
        each of ``input_images`` adds the per-image price (its tokens are already in ``input_tokens``)."""
        index = self._index(model, epoch_days)
        if index < 0:
            return 0.0
        per_in, per_out = self._rates[model][index]
        cost = input_tokens * per_in + output_tokens * per_out
        per_read, per_write, per_request, per_image = self._details[model][index]
        if cache_read_tokens or cache_write_tokens:
            cost += cache_read_tokens * (per_read - per_in) + cache_write_tokens * (per_write - per_in)
        if input_images:
            cost += input_images * per_image
        return cost + per_request
