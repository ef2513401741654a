from __future__ import annotations

import pytest

from gateway_shim.config.models import TenantLimits
from gateway_shim.policy.rate_limit import RateLimiter


def limiter(rpm: int = 60, tpm: int = 6000) -> RateLimiter:
    return RateLimiter({"t": TenantLimits(requests_per_min=rpm, tokens_per_min=tpm)})


def test_requests_per_minute_allows_a_full_bucket_then_says_when_to_retry() -> None:
    rl = limiter(rpm=60)
    assert all(rl.acquire("t", 1, 0.0) is None for _ in range(60))
    refused = rl.acquire("t", 1, 0.0)
    assert refused is not None
    which, wait = refused
    assert which == "requests_per_min"
    assert wait == pytest.approx(1.0)
    assert rl.acquire("t", 1, 0.5) is not None
    assert rl.acquire("t", 1, 1.0) is None


def test_tokens_per_minute_refuses_without_taking_anything() -> None:
    rl = limiter(rpm=600, tpm=6000)
    assert rl.acquire("t", 5000, 0.0) is None
    refused = rl.acquire("t", 2000, 0.0)
    assert refused is not None
    assert refused[0] == "tokens_per_min"
    assert refused[1] == pytest.approx(10.0)  # 1000 tokens short at 100 tokens/s
    requests, tokens = rl.levels("t", 0.0)
    assert requests == pytest.approx(599) and tokens == pytest.approx(1000)


def test_charging_actual_tokens_can_overdraw_and_delay_later_requests() -> None:
    rl = limiter(tpm=6000)
    assert rl.acquire("t", 100, 0.0) is None
    rl.charge("t", 6000, 0.0)  # the answer was far longer than the estimate
    refused = rl.acquire("t", 100, 0.0)
    assert refused is not None and refused[0] == "tokens_per_min"
    assert refused[1] == pytest.approx((100 + 100) / 100.0)
    rl.charge("t", -10_000, 0.0)  # refunds never exceed the bucket size
    assert rl.levels("t", 0.0)[1] == pytest.approx(6000)


def test_a_request_bigger_than_a_minute_of_tokens_waits_for_a_full_bucket() -> None:
    rl = limiter(tpm=600)
    assert rl.acquire("t", 300, 0.0) is None
    refused = rl.acquire("t", 10_000, 0.0)
    assert refused is not None and refused[1] == pytest.approx(30.0)
    assert rl.acquire("t", 10_000, 30.0) is None
