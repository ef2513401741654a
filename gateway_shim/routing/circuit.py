"""Circuit breakers per provider/model, with the provider's ``circuit_breaker`` settings.

closed → open: within the last ``window_s`` at least ``min_requests`` results and a failure share of
at least ``failure_rate``. open → half-open after ``open_s``. half-open lets at most
``half_open_probes`` calls through at a time; that many successes close it, any failure reopens it.
A probe whose result never comes back is forgotten after ``open_s``. Failures are errors, throttles
(429), timeouts, outages and connection failures. ``now`` is the caller's monotonic clock.
"""

from __future__ import annotations

from collections import deque

from gateway_shim.config.models import CircuitBreaker as BreakerSettings

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    __slots__ = (
        "_failures", "_opened_at", "_probe_successes", "_probes_out", "_probes_started", "_results",
        "failure_rate", "half_open_probes", "min_requests", "open_s", "state", "window_s",
    )

    def __init__(self, settings: BreakerSettings) -> None:
        self.window_s = settings.window_s
        self.min_requests = settings.min_requests
        self.failure_rate = settings.failure_rate
        self.open_s = settings.open_s
        self.half_open_probes = settings.half_open_probes
        self.state = CLOSED
        self._results: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._probes_out = 0
        self._probe_successes = 0
        self._probes_started = 0.0

    def allow(self, now: float) -> bool:
        """May a call go to this target now? In half-open, a True takes one of the probe slots."""
        if self.state is CLOSED:
            return True
        if self.state is OPEN:
            if now - self._opened_at < self.open_s:
                return False
            self.state = HALF_OPEN
            self._probes_out = 0
            self._probe_successes = 0
        elif self._probes_out and now - self._probes_started >= self.open_s:
            self._probes_out = 0
        if self._probes_out >= self.half_open_probes:
            return False
        if not self._probes_out:
            self._probes_started = now
        self._probes_out += 1
        return True

    def record(self, ok: bool, now: float) -> None:
        """Feed one call's result (only calls that ``allow`` let through)."""
        if self.state is CLOSED:
            results = self._results
            results.append((now, not ok))
            if not ok:
                self._failures += 1
            horizon = now - self.window_s
            while results and results[0][0] < horizon:
                if results.popleft()[1]:
                    self._failures -= 1
            if not ok and len(results) >= self.min_requests and \
                    self._failures >= self.failure_rate * len(results):
                self._open(now)
        elif self.state is HALF_OPEN:
            if not ok:
                self._open(now)
                return
            self._probes_out = max(0, self._probes_out - 1)
            self._probe_successes += 1
            if self._probe_successes >= self.half_open_probes:
                self.state = CLOSED
                self._results.clear()
                self._failures = 0
        # results arriving while open come from calls started before it opened: ignored.

    def _open(self, now: float) -> None:
        self.state = OPEN
        self._opened_at = now
        self._probes_out = 0
        self._probe_successes = 0
