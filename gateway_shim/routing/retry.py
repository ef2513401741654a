"""Same-target retries before falling back: which failures are worth another try, and when.

A throttle (429), an outage (503, or the connection dropped before the first byte) and other 5xx
answers are often gone a moment later, so the same target is tried again (up to the provider's
``max_retries``) after a capped exponential backoff with full jitter, never sooner than the
provider's ``Retry-After``, and only when the wait still leaves time in the lane's deadline.
Timeouts (the lane's time is what ran out), refused connections and 4xx verdicts move on at once.
"""

from __future__ import annotations

import random

from gateway_shim.telemetry.backoff import backoff_delay
from gateway_shim.types import AttemptResult

MIN_CALL_S = 0.05
"""A retry must leave at least this much of the lane's time for the call itself."""


def is_retryable(result: AttemptResult) -> bool:
    if result.ok:
        return False
    if result.reason in ("throttle", "outage"):
        return True
    return result.reason == "error" and result.status is not None and result.status >= 500


def retry_delay(retry: int, base_s: float, max_s: float, retry_after_s: float | None, remaining_s: float,
                rng: random.Random) -> float | None:
    """Seconds to wait before retry number ``retry`` (1 = the first), or None when the wait would
    not leave ``MIN_CALL_S`` of the ``remaining_s`` lane time: full jitter in
    [0, min(max_s, base_s * 2^(retry-1))], raised to ``retry_after_s`` when the provider asked."""
    delay = backoff_delay(retry, base_s, max_s, rng)
    if retry_after_s is not None and retry_after_s > delay:
        delay = retry_after_s
    if delay + MIN_CALL_S > remaining_s:
        return None
    return delay
