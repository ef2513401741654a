"""Which events are durable: the spooler's commit reports, for callers that answer only after them.

After each cycle the spooler reports ``(last_seq, lost)``: every event the inbox numbered up to
``last_seq`` is durable in the spool (fsynced; a kill -9 cannot lose it) except the sequence numbers
in ``lost``, which were dropped (spool full, disk error) and counted in a gap record. The server
holds each 2xx until its event's report arrives (``server/durable_acks.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

CommitListener = Callable[[int, tuple[int, ...]], None]
"""Called on the spooler thread with ``(last_seq, lost)``; must only hand the report on."""


class CommitLog:
    """The spooler's commit reports, fanned out to listeners, plus whether the spool takes events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[CommitListener] = []
        self.committed_seq = 0
        """The highest sequence number reported so far (durable or lost)."""
        self.failing = False
        """The last cycle lost events to a full or failing spool, and no write has succeeded since."""

    def subscribe(self, listener: CommitListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def report(self, last_seq: int, lost: tuple[int, ...]) -> None:
        """Everything up to ``last_seq`` is settled: durable, or listed in ``lost``."""
        if lost:
            self.failing = True
        if last_seq <= self.committed_seq and not lost:
            return
        self.committed_seq = max(self.committed_seq, last_seq)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(last_seq, lost)

    def recovered(self) -> None:
        """A write to the spool succeeded again: space (or the disk) is back."""
        self.failing = False
