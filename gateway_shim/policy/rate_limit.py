"""Per-tenant token buckets for requests/min and tokens/min, with the wait until a retry can pass.

Each bucket holds up to one minute's allowance and refills continuously. A request needs one
request-token and its estimated prompt tokens; when either bucket is short nothing is taken and the
answer is the seconds until both would suffice. After the call the tokens bucket is charged the
difference between the actual and the estimated tokens (it may go negative: later requests wait).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway_shim.config.models import TenantLimits


class _Bucket:
    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = float(per_minute)
        self.updated: float | None = None

    def refill(self, now: float) -> float:
        if self.updated is None:
            self.updated = now
        elif now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now
        return self.level

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (after ``refill``); 0 when it already is."""
        needed = min(amount, self.capacity) - self.level
        return needed / self.rate if needed > 0 else 0.0


class RateLimiter:
    """Token buckets for every tenant (single-threaded; ``now`` is monotonic seconds)."""

    __slots__ = ("_requests", "_tokens")

    def __init__(self, limits: Mapping[str, TenantLimits]) -> None:
        self._requests = {tenant: _Bucket(lim.requests_per_min) for tenant, lim in limits.items()}
        self._tokens = {tenant: _Bucket(lim.tokens_per_min) for tenant, lim in limits.items()}

    def set_limits(self, limits: Mapping[str, TenantLimits]) -> None:
        """New limits (a policy reload): buckets keep their level, clipped to the new size."""
        for tenant, lim in limits.items():
            for buckets, per_minute in ((self._requests, lim.requests_per_min),
                                        (self._tokens, lim.tokens_per_min)):
                bucket = buckets.get(tenant)
                if bucket is None:
                    buckets[tenant] = _Bucket(per_minute)
                else:
                    bucket.capacity = float(per_minute)
                    bucket.rate = per_minute / 60.0
                    bucket.level = min(bucket.level, bucket.capacity)

    def acquire(self, tenant: str, tokens: int, now: float) -> tuple[str, float] | None:
        """Take one request and ``tokens`` tokens, or return (which limit, seconds to wait) and take nothing.

        A request larger than a whole minute's token allowance waits for a full bucket and then passes.
        """
        requests = self._requests[tenant]
        token_bucket = self._tokens[tenant]
        if requests.refill(now) >= 1.0 and token_bucket.refill(now) >= min(tokens, token_bucket.capacity):
            requests.level -= 1.0
            token_bucket.level -= tokens
            return None
        token_bucket.refill(now)
        wait_requests = requests.wait_for(1.0)
        wait_tokens = token_bucket.wait_for(float(tokens))
        if wait_requests >= wait_tokens:
            return "requests_per_min", wait_requests
        return "tokens_per_min", wait_tokens

    def charge(self, tenant: str, tokens: int, now: float) -> None:
        """Correct the tokens bucket by ``tokens`` (actual minus estimated; negative gives some back)."""
        bucket = self._tokens[tenant]
        bucket.refill(now)
        bucket.level = min(bucket.capacity, bucket.level - tokens)

    def levels(self, tenant: str, now: float) -> tuple[float, float]:
        """(requests, tokens) currently available to ``tenant``."""
        return self._requests[tenant].refill(now), self._tokens[tenant].refill(now)
