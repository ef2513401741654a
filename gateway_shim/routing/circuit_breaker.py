"""Circuit breakers per provider/model, with the provider's ``circuit_breaker`` settings.

closed → open: within the last ``window_s`` (counted in ``SLICES`` slices, so results leave the window
one slice at a time) at least ``min_requests`` results and a failure share of at least
``failure_rate``. open → half-open after ``open_s``. half-open lets at most
``half_open_probes`` calls through at a time; that many successes close it, any failure reopens it.
A probe whose result never comes back is forgotten after ``open_s``. Failures are errors, throttles
(429), timeouts, outages and connection failures. ``now`` is the caller's monotonic clock.
"""

from __future__ import annotations

from gateway_shim.config.models import CircuitBreaker as BreakerSettings

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    __slots__ = (
        "_failed", "_failures", "_opened_at", "_probe_successes", "_probes_out", "_probes_started",
        "_slice", "_slice_s", "_total", "_totals", "failure_rate", "half_open_probes", "min_requests",
        "open_s", "state", "window_s",
    )

    SLICES = 10

    def __init__(self, settings: BreakerSettings) -> None:
        self.window_s = settings.window_s
        self.min_requests = settings.min_requests
        self.failure_rate = settings.failure_rate
        self.open_s = settings.open_s
        self.half_open_probes = settings.half_open_probes
        self.state = CLOSED
        self._slice_s = settings.window_s / self.SLICES
        self._slice = 0
        """Index (``now // slice_s``) of the newest slice; slot ``index % SLICES`` holds its counts."""
        self._totals = [0] * self.SLICES
        self._failed = [0] * self.SLICES
        self._total = 0
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
            index = int(now // self._slice_s)
            if index > self._slice:
                self._advance(index)
            elif index < self._slice:  # stamped before the newest slice: count it there
                index = self._slice
            slot = index % self.SLICES
            self._totals[slot] += 1
            self._total += 1
            if not ok:
                self._failed[slot] += 1
                self._failures += 1
                if self._total >= self.min_requests and self._failures >= self.failure_rate * self._total:
                    self._open(now)
        elif self.state is HALF_OPEN:
            if not ok:
                self._open(now)
                return
            self._probes_out = max(0, self._probes_out - 1)
            self._probe_successes += 1
            if self._probe_successes >= self.half_open_probes:
                self.state = CLOSED
                self._forget()
        # results arriving while open come from calls started before it opened: ignored.

    def _open(self, now: float) -> None:
        self.state = OPEN
        self._opened_at = now
        self._probes_out = 0
        self._probe_successes = 0

    def _advance(self, index: int) -> None:
        """Move the window forward to slice ``index``: empty the slices that fell out of it."""
        for stale in range(max(self._slice + 1, index - self.SLICES + 1), index + 1):
            slot = stale % self.SLICES
            self._total -= self._totals[slot]
            self._failures -= self._failed[slot]
            self._totals[slot] = self._failed[slot] = 0
        self._slice = index

    def _forget(self) -> None:
        self._totals = [0] * self.SLICES
        self._failed = [0] * self.SLICES
        self._total = self._failures = 0
