"""Acknowledged means durable: a 2xx waits until the lake writer has fsynced the request's event.

The core emits through ``DurableAcks.emit``, which remembers the sequence number the writer's inbox
gave the event. ``confirm()`` (called right after ``Gateway.finish``, before the answer is written)
asks the spooler for a commit and waits for its report (``telemetry/commits.py``). Everything
emitted meanwhile shares one fsync, so the wait is one group commit (docs/lake.md, "Acknowledged
means durable"). The loop paces the requests itself: at most one per ``commit_interval_s`` after
the last report, by a timer of its own, so the spooler thread is woken once per commit and commits
at once (a wake-up that then slept out the interval cost the thread one more hand-over of the GIL).

If the event was lost (spool full, disk error) or no report came within ``CONFIRM_TIMEOUT_S``, the
config's ``gateway.on_spool_full`` decides: ``serve`` answers anyway (the loss is counted and in a gap
record), ``refuse`` answers 503 instead of the 2xx.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Literal

from gateway_shim.telemetry.lake_writer import LakeWriter

log = logging.getLogger("aigw.server")

CONFIRM_TIMEOUT_S = 5.0
"""How long a response waits for its commit before the spool counts as failing."""
_LOST_REMEMBERED = 65_536
SpoolFullChoice = Literal["serve", "refuse"]


class DurableAcks:
    """Bridges the writer's commit reports (spooler thread) to responses waiting on the event loop."""

    def __init__(self, writer: LakeWriter, on_spool_full: SpoolFullChoice = "serve") -> None:
        self._loop = asyncio.get_running_loop()
        self._writer_emit = writer.emit
        self._commit_soon = writer.commit_soon
        self._commit_interval = writer.settings.commit_interval_s
        self._commit_requested = False
        """A commit was asked for (or is scheduled) and its report has not come yet."""
        self._last_report = 0.0
        self._commits = writer.commits
        self.refuse_when_full = on_spool_full == "refuse"
        self.last_seq = 0
        """The sequence number of the event emitted last (0: the writer refused it)."""
        self._committed = 0
        self._lost: deque[int] = deque(maxlen=_LOST_REMEMBERED)
        self._lost_set: set[int] = set()
        self._waiting: deque[tuple[int, asyncio.Future[bool], float]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self.unconfirmed = 0
        """Responses whose event was lost or not confirmed in time (counted in ``/metrics``)."""
        writer.commits.subscribe(self._from_spooler)

    def emit(self, event: dict[str, Any]) -> None:
        """The core's event sink: hand the event to the writer and remember its sequence number."""
        self.last_seq = self._writer_emit(event)

    @property
    def spool_failing(self) -> bool:
        """True while the spool loses events and the config says ``refuse``: admit nothing new."""
        return self.refuse_when_full and self._commits.failing

    async def confirm(self) -> bool:
        """Wait until the event emitted last is durable; whether the 2xx may be sent."""
        seq = self.last_seq
        if seq == 0:
            durable = False
        elif seq <= self._committed:
            durable = seq not in self._lost_set
        else:
            future: asyncio.Future[bool] = self._loop.create_future()
            self._waiting.append((seq, future, self._loop.time() + CONFIRM_TIMEOUT_S))
            if self._sweeper is None:
                self._sweeper = self._loop.call_later(CONFIRM_TIMEOUT_S / 4, self._sweep)
            self._request_commit()
            durable = await future
        if durable:
            return True
        self.unconfirmed += 1
        return not self.refuse_when_full

    def _request_commit(self) -> None:
        if self._commit_requested:
            return
        self._commit_requested = True
        delay = self._last_report + self._commit_interval - self._loop.time()
        if delay > 0:
            self._loop.call_later(delay, self._commit_soon)
        else:
            self._commit_soon()

    def _from_spooler(self, last_seq: int, lost: tuple[int, ...]) -> None:
        """On the spooler thread: hand the report to the loop."""
        self._loop.call_soon_threadsafe(self._settle, last_seq, lost)

    def _settle(self, last_seq: int, lost: tuple[int, ...]) -> None:
        for seq in lost:
            if len(self._lost) == self._lost.maxlen:
                self._lost_set.discard(self._lost[0])
            self._lost.append(seq)
            self._lost_set.add(seq)
        self._committed = max(self._committed, last_seq)
        self._last_report = self._loop.time()
        self._commit_requested = False
        waiting = self._waiting
        while waiting and waiting[0][0] <= last_seq:
            seq, future, _ = waiting.popleft()
            if not future.done():
                future.set_result(seq not in self._lost_set)
        if waiting:  # emitted after the spooler took its events: the next commit
            self._request_commit()

    def _sweep(self) -> None:
        """Fail the waits that got no report in time (a stuck disk must not hang responses)."""
        self._sweeper = None
        now = self._loop.time()
        waiting = self._waiting
        while waiting and waiting[0][2] <= now:
            seq, future, _ = waiting.popleft()
            if not future.done():
                log.error("event %d not confirmed durable within %.0f s", seq, CONFIRM_TIMEOUT_S)
                future.set_result(False)
        if waiting:
            self._sweeper = self._loop.call_later(CONFIRM_TIMEOUT_S / 4, self._sweep)
