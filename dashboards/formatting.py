"""How money, percentages and months read on screen and in the review pack (one place, so they agree)."""

from __future__ import annotations

import math
from datetime import date


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None) -> str:
    """USD with cents below $1,000 and whole dollars above, so small tenants still read precisely."""
    if _missing(value):
        return "—"
    assert value is not None
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount >= 1_000_000:
        return f"{sign}${amount / 1_000_000:,.2f}M"
    if amount >= 1_000:
        return f"{sign}${amount:,.0f}"
    return f"{sign}${amount:,.2f}"


def unit_money(value: float | None) -> str:
    """Per-unit prices (per request, per 1k tokens) are often fractions of a cent: four decimals."""
    if _missing(value):
        return "—"
    assert value is not None
    return f"${value:,.4f}" if abs(value) < 10 else money(value)


def money_delta(value: float | None) -> str:
    """A signed change in USD (always shows + or -)."""
    if _missing(value):
        return "—"
    assert value is not None
    return ("+" if value >= 0 else "") + money(value)


def percent(fraction: float | None, digits: int = 1) -> str:
    """A fraction (0.123) as a percentage (12.3%)."""
    if _missing(fraction):
        return "—"
    assert fraction is not None
    return f"{fraction * 100:.{digits}f}%"


def percent_delta(fraction: float | None, digits: int = 1) -> str:
    """A signed relative change: +12.3% / -4.0%."""
    if _missing(fraction):
        return "—"
    assert fraction is not None
    return ("+" if fraction >= 0 else "") + percent(fraction, digits)


def availability(fraction: float | None) -> str:
    """Availability needs more digits than money shares: 99.95% and 99.5% are very different."""
    return percent(fraction, 2)


def month_label(month: str) -> str:
    """'2026-10' → 'October 2026'."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1).strftime("%B %Y")
