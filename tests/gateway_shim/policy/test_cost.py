from __future__ import annotations

import datetime as dt

import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.policy.cost import PriceBook, day_of, epoch_day, month_end_us, month_key

CONFIG = load_config(DEMO_CONFIG)
HAIKU = "anthropic.claude-3-5-haiku-v1"


def days(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def test_a_request_is_priced_on_its_own_day_across_a_mid_month_change() -> None:
    book = PriceBook(CONFIG.pricing)
    before = book.cost(HAIKU, days(dt.date(2026, 11, 14)), 1_000_000, 1_000_000)
    after = book.cost(HAIKU, days(dt.date(2026, 11, 15)), 1_000_000, 1_000_000)
    assert before == pytest.approx(0.80 + 4.00)
    assert after == pytest.approx(1.00 + 5.00)


def test_agrees_with_the_configs_own_price_lookup() -> None:
    book = PriceBook(CONFIG.pricing)
    for model in CONFIG.pricing:
        for date in (dt.date(2026, 1, 1), dt.date(2026, 11, 14), dt.date(2026, 11, 30)):
            price = CONFIG.price_on(model, date)
            assert price is not None
            assert book.rates(model, days(date)) == pytest.approx(
                (price.input_per_mtok / 1e6, price.output_per_mtok / 1e6))


def test_no_price_before_the_first_entry_or_for_unknown_models() -> None:
    book = PriceBook(CONFIG.pricing)
    assert book.rates(HAIKU, days(dt.date(2025, 12, 31))) is None
    assert book.cost("no-such-model", days(dt.date(2026, 11, 1)), 10, 10) == 0.0


def test_day_and_month_arithmetic() -> None:
    ts = int(dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC).timestamp() * 1_000_000)
    assert day_of(epoch_day(ts)) == dt.date(2026, 11, 30)
    month = month_key(epoch_day(ts))
    assert month == 2026 * 12 + 10
    assert month_key(days(dt.date(2026, 12, 1))) == month + 1
    assert month_end_us(month) == ts + 1_000_000
    assert month_end_us(2026 * 12 + 11) == int(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000


def test_cache_reads_and_writes_have_their_own_prices_and_default_to_the_input_price() -> None:
    book = PriceBook(CONFIG.pricing)
    day = days(dt.date(2026, 11, 20))
    # 1M input tokens of which 600k read from the cache and 100k written to it; 1M output.
    assert book.cost(HAIKU, day, 1_000_000, 1_000_000, 600_000, 100_000) == pytest.approx(
        0.3 * 1.00 + 0.6 * 0.10 + 0.1 * 1.25 + 5.00)
    mini = "gpt-4o-mini"  # cache reads priced, writes left at the input price
    assert book.cost(mini, day, 1_000_000, 0, 500_000, 500_000) == pytest.approx(0.5 * 0.075 + 0.5 * 0.15)


def test_a_per_request_price_is_added_once_per_call() -> None:
    document = CONFIG.model_dump(mode="json")
    document["pricing"]["per-call-model"] = [{"effective_from": "2026-01-01", "input_per_mtok": 1.0,
                                              "output_per_mtok": 2.0, "per_request_usd": 0.004}]
    book = PriceBook(type(CONFIG).model_validate(document).pricing)
    assert book.cost("per-call-model", days(dt.date(2026, 11, 20)), 1000, 500) == pytest.approx(
        0.001 + 0.001 + 0.004)


def test_each_input_image_adds_the_per_image_price_on_top_of_its_tokens() -> None:
    document = CONFIG.model_dump(mode="json")
    rates = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    document["pricing"]["vision-model"] = [
        {"effective_from": "2026-01-01", **rates, "input_image_usd": 0.002},
        {"effective_from": "2026-11-15", **rates, "input_image_usd": 0.003},
    ]
    book = PriceBook(type(CONFIG).model_validate(document).pricing)
    tokens = 0.001 + 0.001  # 1000 in at $1/M, 500 out at $2/M
    assert book.cost("vision-model", days(dt.date(2026, 11, 14)), 1000, 500, 0, 0, 3) == pytest.approx(
        tokens + 3 * 0.002)
    assert book.cost("vision-model", days(dt.date(2026, 11, 15)), 1000, 500, 0, 0, 3) == pytest.approx(
        tokens + 3 * 0.003)
    assert book.cost("vision-model", days(dt.date(2026, 11, 15)), 1000, 500) == pytest.approx(tokens)
    assert book.cost(HAIKU, days(dt.date(2026, 11, 20)), 1000, 0, 0, 0, 4) == pytest.approx(0.001)  # no price
    assert book.fees("vision-model", days(dt.date(2026, 11, 15))) == (0.0, 0.003)
    assert book.fees("vision-model", days(dt.date(2025, 12, 31))) is None
