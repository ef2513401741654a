"""Seeded latency model of an LLM: time to first token (prefill + queueing) plus time per output token.

Pure: callers pass the random generator, so the provider server, the simulator and tests all get
the same numbers for the same seed. Times are in milliseconds of real (unscaled) time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class LatencyProfile:
    """Lognormal time to first token and per-token time around their medians, with a rare slow tail."""

    ttft_median_ms: float
    ttft_sigma: float
    per_token_median_ms: float
    per_token_sigma: float
    prefill_ms_per_1k_input: float
    output_median_tokens: int
    output_sigma: float = 0.6
    tail_probability: float = 0.01
    tail_factor: float = 3.0


PROFILES: Mapping[str, LatencyProfile] = {
    "anthropic.claude-3-5-haiku-v1": LatencyProfile(420, 0.30, 15.0, 0.15, 40, 220),
    "anthropic.claude-3-7-sonnet-v1": LatencyProfile(900, 0.35, 22.0, 0.18, 70, 380),
    "meta.llama3-1-70b-instruct-v1": LatencyProfile(520, 0.35, 25.0, 0.20, 60, 300),
    "amazon.nova-lite-v1": LatencyProfile(280, 0.30, 7.5, 0.15, 25, 200),
    "amazon.titan-text-express-v1": LatencyProfile(600, 0.40, 18.0, 0.20, 50, 260),
    "gpt-4o-mini": LatencyProfile(380, 0.35, 11.0, 0.20, 30, 240),
    "mistral-7b-instruct": LatencyProfile(150, 0.30, 9.0, 0.15, 20, 200),
}
DEFAULT_PROFILE = LatencyProfile(500, 0.35, 15.0, 0.20, 50, 250)


def profile_for(model: str, profiles: Mapping[str, LatencyProfile] = PROFILES) -> LatencyProfile:
    return profiles.get(model, DEFAULT_PROFILE)


def sample(
    model: str,
    input_tokens: int,
    output_tokens: int,
    rng: random.Random,
    profiles: Mapping[str, LatencyProfile] = PROFILES,
) -> tuple[float, float]:
    """(ttft_ms, total_ms) for one request; total = ttft + output_tokens x a per-request token time."""
    p = profile_for(model, profiles)
    ttft = p.ttft_median_ms * math.exp(p.ttft_sigma * rng.gauss(0.0, 1.0))
    ttft += p.prefill_ms_per_1k_input * input_tokens / 1000.0
    per_token = p.per_token_median_ms * math.exp(p.per_token_sigma * rng.gauss(0.0, 1.0))
    if rng.random() < p.tail_probability:
        ttft *= p.tail_factor
    return ttft, ttft + per_token * output_tokens
