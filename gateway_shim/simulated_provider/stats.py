"""Per-model counters of what the provider received and which answers were injected faults.

A source of evidence that does not depend on the gateway: the load tests compare what the gateway
says it sent to a model with what the model's provider saw. Recording is one or two dict increments
on the request's event loop (no lock: the ASGI app runs on one loop thread).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any


class RequestStats:
    """Requests received and faults served (outage, throttle or injected error) per model id."""

    __slots__ = ("_clock", "faults", "requests", "since")

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC).timestamp())
        self.requests: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.since = self._clock()

    def record(self, model: str, fault: bool) -> None:
        self.requests[model] = self.requests.get(model, 0) + 1
        if fault:
            self.faults[model] = self.faults.get(model, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """``{"since": ISO 8601 UTC of the last reset, "models": {model: {"requests", "faults"}}}``."""
        models = {model: {"requests": count, "faults": self.faults.get(model, 0)}
                  for model, count in sorted(self.requests.items())}
        since = dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat().replace("+00:00", "Z")
        return {"since": since, "models": models}

    def reset(self) -> int:
        """Start counting afresh; the number of requests that were counted."""
        cleared = sum(self.requests.values())
        self.requests, self.faults, self.since = {}, {}, self._clock()
        return cleared
