from __future__ import annotations

from datetime import date

from dashboards import months


def test_neighbours_and_bounds() -> None:
    assert months.previous("2026-01") == "2025-12"
    assert months.last_day("2024-02") == date(2024, 2, 29)
    assert months.next_month_start("2026-12") == date(2027, 1, 1)
    assert months.days_in("2026-11") == 30


def test_last_complete_month_is_judged_on_the_data() -> None:
    covered = ["2026-09", "2026-10", "2026-11"]
    assert months.last_complete(covered, date(2026, 11, 26)) == "2026-10"
    assert months.last_complete(covered, date(2026, 11, 30)) == "2026-11"


def test_a_single_partial_month_is_still_shown() -> None:
    assert months.last_complete(["2026-11"], date(2026, 11, 3)) == "2026-11"
    assert months.last_complete([], date(2026, 11, 3)) is None


def test_partial_coverage_names_the_days() -> None:
    assert months.partial_coverage("2026-10", date(2026, 10, 21), date(2026, 10, 31)) == "21–31 Oct 2026"
    assert months.partial_coverage("2026-10", date(2026, 10, 1), date(2026, 10, 31)) is None


def test_a_month_in_progress_is_compared_with_the_same_days_before() -> None:
    assert months.same_days_before("2026-12", date(2026, 12, 6)) == (date(2026, 11, 1), date(2026, 11, 6))
    assert months.same_days_before("2026-03", date(2026, 3, 30)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert months.same_days_before("2026-11", date(2026, 11, 30)) is None
    assert months.span_label(date(2026, 11, 1), date(2026, 11, 6)) == "1–6 Nov 2026"
    assert months.span_label(date(2026, 10, 21), date(2026, 11, 6)) == "21 Oct–6 Nov 2026"
