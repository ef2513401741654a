"""How long to wait before retrying the lake: exponential backoff with full jitter."""

from __future__ import annotations

import random


def backoff_delay(failures: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(failures-1))]."""
    return rng.uniform(0.0, min(max_s, base_s * 2 ** min(failures - 1, 30)))
