from __future__ import annotations

import math

from dashboards import formatting as fmt


def test_money_scales_its_precision_with_the_amount() -> None:
    assert fmt.money(12.345) == "$12.35"
    assert fmt.money(12_345.6) == "$12,346"
    assert fmt.money(2_500_000) == "$2.50M"
    assert fmt.money(-3.5) == "-$3.50"
    assert fmt.money(None) == "—"
    assert fmt.money(math.nan) == "—"


def test_deltas_always_carry_a_sign() -> None:
    assert fmt.money_delta(19.17) == "+$19.17"
    assert fmt.money_delta(-1_200) == "-$1,200"
    assert fmt.percent_delta(0.031) == "+3.1%"
    assert fmt.percent_delta(-0.25) == "-25.0%"


def test_unit_prices_keep_fractions_of_a_cent() -> None:
    assert fmt.unit_money(0.000_42) == "$0.0004"
    assert fmt.unit_money(0.0123) == "$0.0123"


def test_availability_has_two_decimals_and_months_read_as_words() -> None:
    assert fmt.availability(0.9964) == "99.64%"
    assert fmt.percent(0.108) == "10.8%"
    assert fmt.month_label("2026-10") == "October 2026"
