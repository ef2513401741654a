"""What the lake writer's threads share under one condition: the upload queue, counters, flush barrier.

The spooler seals segments and queues them; the uploader takes them off the queue once their files
are in the lake; ``flush`` waits until the uploader has passed the barrier the spooler set when it
answered the flush. Every change goes through a method here, which holds the condition and wakes
the waiters, so no thread touches another's state directly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypedDict

from gateway_shim.telemetry.spool import Segment

log = logging.getLogger("aigw.lake")


class WriterStats(TypedDict):
    accepted: int
    """``emit`` calls taken into the writer by this process."""
    durable: int
    """... of which flushed to the spool on disk (acknowledged: a kill -9 cannot lose them)."""
    written: int
    """Events written to the lake by this process (replayed ones included)."""
    backlog: int
    """Events in memory or in the spool, not yet in the lake."""
    dropped: int
    """Events lost on purpose (spool full, disk error, emitted after close), each in a gap record."""
    invalid: int
    """Events that did not fit the schema, written to ``quarantine/writer/`` instead."""
    replayed: int
    """Events found in the spool at start (left by a crash or an unfinished close)."""
    files_written: int
    gaps_recorded: int
    spool_bytes: int
    last_error: str | None


@dataclass
class _Counts:
    """The counters of ``stats()`` that the threads keep (the inbox keeps the callers' own)."""

    durable: int = 0
    written: int = 0
    dropped: int = 0
    invalid: int = 0
    replayed: int = 0
    files_written: int = 0
    gaps_recorded: int = 0
    last_error: str | None = None


class UploadWork(NamedTuple):
    """The uploader's next step: the oldest sealed segment, and the outbox count to upload up to."""

    segment: Segment | None
    outbox_target: int | None


class WriterProgress:
    """The shared state of one writer's spooler, uploader and callers (see the module docstring)."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._cond = threading.Condition()
        # the queue of sealed segments, and the open one's size
        self._queue: deque[Segment] = deque()
        self._open_rows = 0
        self._open_bytes = 0
        self._queued_rows = 0
        self._queued_bytes = 0
        self._queued_memory = 0
        self._counts = _Counts()
        # the flush barrier: segments by seq, outbox objects by count
        self._flush_requested = 0
        self._flush_handled = 0
        self._barrier_seq = -1
        self._sealed_seq = -1
        self._barrier_outbox = 0
        self._uploaded_seq = -1
        self._outbox_written = 0
        self._outbox_uploaded = 0
        # stopping
        self._spooler_done = False
        self._stopping = False
        self._stop_upload = False

    # ---- start, flush and close (callers) ----------------------------------------------------

    def replay(self, leftovers: Sequence[Segment], outbox_waiting: bool) -> int:
        """Queue the segments an earlier run left in the spool; returns their event count."""
        with self._cond:
            for segment in leftovers:
                self._queue.append(segment)
                self._queued_rows += segment.rows
                self._queued_bytes += segment.size
                self._counts.replayed += segment.rows
            self._sealed_seq = self._barrier_seq = max((s.seq for s in leftovers), default=-1)
            if outbox_waiting:
                self._outbox_written = 1
            return self._counts.replayed

    def request_flush(self) -> int:
        """A new flush ticket, for the spooler to answer."""
        with self._cond:
            self._flush_requested += 1
            return self._flush_requested

    def wait_drained(self, ticket: int, timeout: float) -> bool:
        """Wait until everything before flush ``ticket`` is in the lake (or the uploader was stopped)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._drained(ticket), timeout=timeout)

    def _drained(self, ticket: int) -> bool:
        return (
            self._flush_handled >= ticket
            and self._uploaded_seq >= self._barrier_seq
            and self._outbox_uploaded >= self._barrier_outbox
        ) or self._stop_upload

    def stop_spooling(self) -> None:
        """Ask the spooler to seal what it has and finish."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def stop_uploading(self, drained: bool) -> None:
        """Let the uploader finish: at once if the lake did not drain, else once its queue is empty."""
        with self._cond:
            self._stop_upload = not drained
            self._cond.notify_all()

    def stats(self, accepted: int, pending: int, refused: int) -> WriterStats:
        """The counters, with the inbox's figures (``Inbox.counts``) added."""
        with self._cond:
            return WriterStats(
                accepted=accepted,
                durable=self._counts.durable,
                written=self._counts.written,
                backlog=pending + self._open_rows + self._queued_rows,
                dropped=self._counts.dropped + refused,
                invalid=self._counts.invalid,
                replayed=self._counts.replayed,
                files_written=self._counts.files_written,
                gaps_recorded=self._counts.gaps_recorded,
                spool_bytes=self._open_bytes + self._queued_bytes,
                last_error=self._counts.last_error,
            )

    # ---- spooler -----------------------------------------------------------------------------

    def flush_request(self) -> tuple[int, bool]:
        """The newest flush ticket, and whether the spooler is asked to stop."""
        with self._cond:
            return self._flush_requested, self._stopping

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def spooler_done(self) -> bool:
        return self._spooler_done

    def flush_unanswered(self, ticket: int) -> bool:
        """Whether flush ``ticket`` still waits for the spooler (only the spooler answers, so no lock)."""
        return ticket > self._flush_handled

    def answer_flush(self, ticket: int) -> None:
        """Flush ``ticket`` is sealed: it is drained once the uploader has passed what is sealed now."""
        with self._cond:
            self._flush_handled = ticket
            self._barrier_seq = self._sealed_seq
            self._barrier_outbox = self._outbox_written
            self._cond.notify_all()

    def finish_spooling(self) -> None:
        with self._cond:
            self._spooler_done = True
            self._cond.notify_all()

    @property
    def open_bytes(self) -> int:
        """Arrow bytes in the open segment (only the spooler changes it, so no lock)."""
        return self._open_bytes

    def spool_bytes(self, open_segment_size: int) -> int:
        """Bytes in the spool: the queued segments plus the open one's file."""
        with self._cond:
            return self._queued_bytes + open_segment_size

    def grow_open_segment(self, rows: int, added_bytes: int) -> None:
        with self._cond:
            self._open_rows = rows
            self._open_bytes += added_bytes

    def queued_memory_below(self, limit: int) -> bool:
        """Whether the queued segments kept in memory take less than ``limit`` bytes."""
        with self._cond:
            return self._queued_memory < limit

    def add_durable(self, count: int) -> None:
        with self._cond:
            self._counts.durable += count

    def enqueue(self, segment: Segment) -> None:
        """A sealed segment for the uploader; the open segment is empty again."""
        with self._cond:
            self._queue.append(segment)
            self._queued_rows += segment.rows
            self._queued_bytes += segment.size
            self._queued_memory += segment.table.nbytes if segment.table is not None else 0
            self._sealed_seq = segment.seq
            self._open_rows = 0
            self._open_bytes = 0
            self._cond.notify_all()

    def discard_open_segment(self) -> None:
        """The open segment sealed into nothing (none of its events fitted the schema)."""
        with self._cond:
            self._open_rows = 0
            self._open_bytes = 0

    def quarantined(self, count: int) -> None:
        """``count`` invalid events are in the outbox, bound for the quarantine."""
        with self._cond:
            self._counts.invalid += count
            self._outbox_written += 1
            self._cond.notify_all()

    def add_dropped(self, count: int) -> int:
        """Count dropped events; returns the total so far."""
        with self._cond:
            self._counts.dropped += count
            return self._counts.dropped

    def gap_written(self, first_write: bool) -> None:
        """A gap record is in the outbox (a new gap, or the same one rewritten)."""
        with self._cond:
            self._counts.gaps_recorded += int(first_write)
            self._outbox_written += 1
            self._cond.notify_all()

    def record_error(self, exc: BaseException) -> None:
        """Log an error and keep it as ``last_error``."""
        message = f"{type(exc).__name__}: {exc}"
        self.set_last_error(message)
        log.error("lake writer %s: %s", self.gateway_id, message)

    def set_last_error(self, message: str) -> None:
        with self._cond:
            self._counts.last_error = message

    # ---- uploader ----------------------------------------------------------------------------

    def next_upload(self) -> UploadWork | None:
        """Wait (up to a second) for something to upload; None when the uploader is to stop."""
        with self._cond:
            self._cond.wait_for(self._upload_work, timeout=1.0)
            if self._stop_upload:
                return None
            segment = self._queue[0] if self._queue else None
            outbox_target = self._outbox_written
            outbox_due = outbox_target > self._outbox_uploaded
            if segment is None and not outbox_due and self._spooler_done:
                return None
        return UploadWork(segment, outbox_target if outbox_due else None)

    def _upload_work(self) -> bool:
        return bool(
            self._queue
            or self._outbox_written > self._outbox_uploaded
            or self._stop_upload
            or self._spooler_done
        )

    def outbox_uploaded(self, target: int) -> None:
        with self._cond:
            self._outbox_uploaded = max(self._outbox_uploaded, target)
            self._cond.notify_all()

    def segment_uploaded(self, segment: Segment, written: int, invalid: int, files: int) -> None:
        """The queue's oldest segment is done: its events are in the lake (or quarantined)."""
        with self._cond:
            self._queue.popleft()
            self._queued_rows -= segment.rows
            self._queued_bytes -= segment.size
            self._queued_memory -= segment.table.nbytes if segment.table is not None else 0
            self._counts.written += written
            self._counts.invalid += invalid
            self._counts.files_written += files
            self._uploaded_seq = segment.seq
            self._cond.notify_all()

    def pause_unless_stopped(self, delay: float) -> None:
        """Wait ``delay`` seconds before a retry, unless the uploader is stopped meanwhile."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop_upload, timeout=delay)
