"""Per-model fault injection: error rates with a chosen status, throttling, added latency, outages.

Pure and single-threaded: `now` is passed in (monotonic seconds for the server, virtual seconds for
the simulator) and so is the random generator. A fault set for model "*" applies to every model that
has none of its own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

WILDCARD = "*"
Kind = Literal["ok", "error", "throttle", "outage"]
OutageMode = Literal["status", "connection"]
FIELDS = ("model", "error_rate", "status", "throttle_rate", "added_latency_ms", "outage", "outage_mode",
          "duration_s")
MAX_ADDED_MS = 600_000.0


class FaultValidationError(ValueError):
    """A control request that does not describe a valid fault; the message names the field."""


@dataclass(slots=True, frozen=True)
class Fault:
    model: str
    error_rate: float = 0.0
    status: int = 500
    throttle_rate: float = 0.0
    added_latency_ms: float = 0.0
    outage: bool = False
    outage_mode: OutageMode = "status"
    expires_at: float | None = None

    def to_json(self, now: float) -> dict[str, Any]:
        remaining = None if self.expires_at is None else round(max(0.0, self.expires_at - now), 3)
        return {"model": self.model, "error_rate": self.error_rate, "status": self.status,
                "throttle_rate": self.throttle_rate, "added_latency_ms": self.added_latency_ms,
                "outage": self.outage, "outage_mode": self.outage_mode, "expires_in_s": remaining}


@dataclass(slots=True, frozen=True)
class Decision:
    """What the simulated model does with one request. `status` is 200 for "ok"."""

    kind: Kind
    status: int
    added_latency_ms: float
    drop_connection: bool = False


OK = Decision("ok", 200, 0.0)


def _rate(body: Mapping[str, Any], name: str) -> float:
    value = body.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise FaultValidationError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def parse_fault(body: object, now: float) -> Fault:
    """Validate a control-API body (`POST /_control/faults`) into a Fault."""
    if not isinstance(body, Mapping):
        raise FaultValidationError("body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise FaultValidationError(f"unknown field(s) {names}; allowed: {', '.join(FIELDS)}")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise FaultValidationError("model is required: a model id, or '*' for every model")
    status = body.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultValidationError(f"status must be an integer HTTP error status 400-599, got {status!r}")
    added = body.get("added_latency_ms", 0.0)
    if isinstance(added, bool) or not isinstance(added, int | float) or not 0 <= added <= MAX_ADDED_MS:
        raise FaultValidationError(
            f"added_latency_ms must be a number 0-{MAX_ADDED_MS:.0f}, got {added!r}")
    outage = body.get("outage", False)
    if not isinstance(outage, bool):
        raise FaultValidationError(f"outage must be true or false, got {outage!r}")
    mode = body.get("outage_mode", "status")
    if mode not in ("status", "connection"):
        raise FaultValidationError(
            f"outage_mode must be 'status' (503) or 'connection' (dropped), got {mode!r}")
    duration = body.get("duration_s")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)
                                 or not duration > 0):
        raise FaultValidationError(f"duration_s must be a positive number of seconds, got {duration!r}")
    return Fault(model=model.strip(), error_rate=_rate(body, "error_rate"), status=status,
                 throttle_rate=_rate(body, "throttle_rate"), added_latency_ms=float(added), outage=outage,
                 outage_mode=mode, expires_at=None if duration is None else now + float(duration))


class FaultSet:
    """The active faults, one per model (or "*"); expired ones vanish on the next look-up."""

    __slots__ = ("_faults",)

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}

    def set(self, fault: Fault) -> None:
        self._faults[fault.model] = fault

    def clear(self, model: str | None = None) -> int:
        """Remove the fault of `model`, or all faults; returns how many were removed."""
        if model is None:
            removed = len(self._faults)
            self._faults.clear()
            return removed
        return 1 if self._faults.pop(model, None) is not None else 0

    def active(self, now: float) -> list[Fault]:
        self._expire(now)
        return sorted(self._faults.values(), key=lambda f: f.model)

    def fault_for(self, model: str, now: float) -> Fault | None:
        if not self._faults:
            return None
        fault = self._faults.get(model) or self._faults.get(WILDCARD)
        if fault is not None and fault.expires_at is not None and now >= fault.expires_at:
            self._expire(now)
            return self.fault_for(model, now)
        return fault

    def decide(self, model: str, rng: random.Random, now: float) -> Decision:
        """The fate of one request to `model`: outage, then throttle, then error, each by its rate."""
        fault = self.fault_for(model, now)
        if fault is None:
            return OK
        added = fault.added_latency_ms
        if fault.outage:
            return Decision("outage", 503, added, drop_connection=fault.outage_mode == "connection")
        if fault.throttle_rate and rng.random() < fault.throttle_rate:
            return Decision("throttle", 429, added)
        if fault.error_rate and rng.random() < fault.error_rate:
            return Decision("error", fault.status, added)
        return Decision("ok", 200, added)

    def _expire(self, now: float) -> None:
        for model in [m for m, f in self._faults.items() if f.expires_at is not None and now >= f.expires_at]:
            del self._faults[model]
