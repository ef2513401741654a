"""The lake writer's inbox: where ``emit`` leaves events for the spooler, the only state a request touches.

``put`` appends to a list under a lock and never touches disk or network; it returns the event's
sequence number (1, 2, ...), which the spooler later reports as committed (durable) or lost
(``commits.py``). Events it cannot take (the writer is closed, or the spooler is hopelessly behind)
get 0 and are only counted, with their time span and estimated cost, for the spooler to record as a gap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from gateway_shim.telemetry.columnar import Event


@dataclass(frozen=True)
class Refusals:
    """Events turned away since the spooler last looked."""

    count: int
    first_ts: int | None
    last_ts: int | None
    reasons: str
    """Comma-separated, sorted: ``pending_full``, ``writer_closed``."""
    cost_usd: float = 0.0
    """Their summed ``estimated_cost_usd``: what the gap record says the lost events were worth."""


class Inbox:
    """Events handed from the callers' threads to the spooler."""

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._accepted = 0
        self._refused = 0
        self._refused_ts: list[int] = []  # first and last ts among them
        self._refused_reasons: set[str] = set()
        self._refused_cost = 0.0
        self._closed = False

    def put(self, event: Event) -> int:
        """Take one event (the writer owns the dict from now on); its sequence number, 0 if refused.

        O(1); never touches disk or network."""
        with self._lock:
            if self._closed or len(self._pending) >= self._max_pending:
                self._refuse(event)
                return 0
            self._pending.append(event)
            self._accepted += 1
            return self._accepted

    def _refuse(self, event: Event) -> None:
        """Count an event that cannot be taken (called under ``_lock``); keeps no reference to it."""
        self._refused += 1
        self._refused_reasons.add("writer_closed" if self._closed else "pending_full")
        cost = event.get("estimated_cost_usd")
        if isinstance(cost, int | float):
            self._refused_cost += cost
        ts = event.get("ts")
        if isinstance(ts, int):
            if not self._refused_ts:
                self._refused_ts = [ts, ts]
            else:
                self._refused_ts = [min(self._refused_ts[0], ts), max(self._refused_ts[1], ts)]

    def take(self) -> tuple[list[Event], int, Refusals | None]:
        """Everything put since the last call, the sequence number of its last event, and what was
        refused meanwhile (None if nothing)."""
        with self._lock:
            events, self._pending = self._pending, []
            last_seq = self._accepted
            refused, self._refused = self._refused, 0
            refused_ts, self._refused_ts = self._refused_ts, []
            reasons, self._refused_reasons = self._refused_reasons, set()
            cost, self._refused_cost = self._refused_cost, 0.0
        if not refused:
            return events, last_seq, None
        first, last = refused_ts or (None, None)
        return events, last_seq, Refusals(refused, first, last, ",".join(sorted(reasons)), cost)

    def close(self) -> bool:
        """Refuse every event from now on; False if it was closed already."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def counts(self) -> tuple[int, int, int]:
        """Events accepted so far, waiting for the spooler, and refused since the spooler last looked."""
        with self._lock:
            return self._accepted, len(self._pending), self._refused
