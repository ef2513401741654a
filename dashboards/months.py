"""Calendar months as 'YYYY-MM' strings: which month a review covers and its neighbours."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def last_day(month: str) -> date:
    start = first_day(month)
    return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def next_month_start(month: str) -> date:
    return last_day(month) + timedelta(days=1)


def previous(month: str) -> str:
    return month_of(first_day(month) - timedelta(days=1))


def days_in(month: str) -> int:
    return last_day(month).day


def last_complete(months: Iterable[str], latest_day: date) -> str | None:
    """The latest month whose last day the data reaches; the latest month at all if none is complete.

    Judged on the data rather than the wall clock, so a warehouse from a simulation (or from a
    month ago) still opens on a month it fully covers.
    """
    ordered = sorted(set(months))
    if not ordered:
        return None
    complete = [month for month in ordered if last_day(month) <= latest_day]
    return complete[-1] if complete else ordered[-1]


def same_days_before(month: str, through: date) -> tuple[date, date] | None:
    """For a month whose data stops at ``through`` before its end: the same days of the month before
    (1 to ``through``'s day, at most that month's length), so a month in progress is compared like
    for like. None when ``through`` is the month's last day (a complete month: compare whole months)."""
    if through >= last_day(month):
        return None
    before = previous(month)
    return first_day(before), first_day(before).replace(day=min(through.day, days_in(before)))


def span_label(first: date, last: date) -> str:
    """'1–6 Nov 2026'."""
    if first.month == last.month:
        return f"{first:%-d}–{last:%-d %b %Y}"
    return f"{first:%-d %b}–{last:%-d %b %Y}"


def partial_coverage(month: str, first: date, last: date) -> str | None:
    """'21–31 Oct 2026' when the data covers only part of ``month``; None when it covers all of it."""
    if first <= first_day(month) and last >= last_day(month):
        return None
    return span_label(first, last)
