from __future__ import annotations

import random
import statistics

from gateway_shim.simulated_provider.latency import DEFAULT_PROFILE, PROFILES, profile_for, sample


def test_same_seed_same_latencies() -> None:
    a, b = random.Random(7), random.Random(7)
    assert [sample("gpt-4o-mini", 100, 50, a) for _ in range(20)] == [sample("gpt-4o-mini", 100, 50, b)
                                                                       for _ in range(20)]


def test_total_is_ttft_plus_per_token_time() -> None:
    rng = random.Random(1)
    for _ in range(200):
        ttft, total = sample("anthropic.claude-3-7-sonnet-v1", 500, 300, rng)
        assert 0 < ttft < total


def test_medians_follow_the_profile() -> None:
    rng = random.Random(3)
    draws = [sample("amazon.nova-lite-v1", 0, 100, rng) for _ in range(2000)]
    profile = PROFILES["amazon.nova-lite-v1"]
    ttft_median = statistics.median(t for t, _ in draws)
    per_token_median = statistics.median((total - t) / 100 for t, total in draws)
    assert abs(ttft_median - profile.ttft_median_ms) / profile.ttft_median_ms < 0.1
    assert abs(per_token_median - profile.per_token_median_ms) / profile.per_token_median_ms < 0.1


def test_slower_models_are_slower() -> None:
    fast = statistics.median(sample("amazon.nova-lite-v1", 200, 200, random.Random(i))[1] for i in range(300))
    slow = statistics.median(sample("anthropic.claude-3-7-sonnet-v1", 200, 200, random.Random(i))[1]
                             for i in range(300))
    assert slow > 2 * fast


def test_longer_prompts_take_longer_to_first_token() -> None:
    short = sample("gpt-4o-mini", 10, 10, random.Random(5))[0]
    long = sample("gpt-4o-mini", 20_000, 10, random.Random(5))[0]
    assert long > short


def test_unknown_models_get_the_default_profile() -> None:
    assert profile_for("no-such-model") is DEFAULT_PROFILE
    assert set(PROFILES) >= {"anthropic.claude-3-5-haiku-v1", "anthropic.claude-3-7-sonnet-v1",
                             "meta.llama3-1-70b-instruct-v1", "amazon.nova-lite-v1",
                             "amazon.titan-text-express-v1", "gpt-4o-mini", "mistral-7b-instruct"}
