"""The lake writer's spooler thread: events from the inbox into the spool on disk, sealed into segments.

Every ``sync_interval_s`` (or when woken by a flush) it converts the new events to Arrow record
batches, appends them to the open spool segment and fsyncs it: from then on the events are
*durable* (a kill -9 cannot lose them). It seals the segment when it reaches ``max_rows``,
``max_bytes`` or ``max_age_s``, or for a flush, and queues it for the uploader. Events that do not
fit the schema go to the outbox for ``quarantine/writer/``; events beyond the spool's cap are
dropped and recorded as a gap.
"""

from __future__ import annotations

import logging
import threading
import time

import orjson

from gateway_shim.telemetry.columnar import Event, to_table
from gateway_shim.telemetry.gap_recorder import GapRecorder
from gateway_shim.telemetry.inbox import Inbox
from gateway_shim.telemetry.layout import writer_quarantine_path
from gateway_shim.telemetry.spool import OpenSegment, Segment, Spool
from gateway_shim.telemetry.writer_progress import WriterProgress
from gateway_shim.telemetry.writer_settings import WriterSettings

log = logging.getLogger("aigw.lake")


class Spooler:
    """The spooler thread's work for one writer (see the module docstring); ``run`` is the thread."""

    def __init__(
        self, settings: WriterSettings, spool: Spool, inbox: Inbox, progress: WriterProgress
    ) -> None:
        self.gateway_id = progress.gateway_id
        self.settings = settings
        self.spool = spool
        self.inbox = inbox
        self.progress = progress
        self.gaps = GapRecorder(self.gateway_id, spool, progress)
        """Only this thread drops events, so the gap records are its own."""
        self._wake = threading.Event()

    def wake(self) -> None:
        """Run a cycle now rather than at the next interval (a flush or close is waiting)."""
        self._wake.set()

    def run(self) -> None:
        """Spool every ``sync_interval_s`` (or when woken) until told to stop."""
        segment: OpenSegment | None = None
        while True:
            self._wake.wait(self.settings.sync_interval_s)
            self._wake.clear()
            try:
                segment = self._once(segment)
            except Exception as exc:  # a bug here must not silently stop the spooling
                log.exception("lake writer %s: spooler error", self.gateway_id)
                self.progress.record_error(exc)
                if self.progress.stopping:
                    self.progress.finish_spooling()
            if self.progress.spooler_done:
                return

    def _once(self, segment: OpenSegment | None) -> OpenSegment | None:
        """One spooler cycle: take new events, append and sync them, seal and answer flushes."""
        ticket, stopping = self.progress.flush_request()
        events, refusals = self.inbox.take()
        if refusals is not None:
            self.gaps.drop(refusals.count, refusals.first_ts, refusals.last_ts, refusals.reasons)
        if events:
            segment = self._append(events, segment)
        if segment is not None:
            segment = self._sync(segment)
        flush = self.progress.flush_unanswered(ticket)
        seal = flush or stopping
        if segment is not None and (seal or self._segment_full(segment)):
            self._seal(segment)
            segment = None
        self.gaps.tend(final=seal)
        if flush:
            self.progress.answer_flush(ticket)
        if stopping:
            self.progress.finish_spooling()
        return segment

    def _segment_full(self, segment: OpenSegment) -> bool:
        return (
            segment.rows >= self.settings.max_rows
            or self.progress.open_bytes >= self.settings.max_bytes
            or time.monotonic() - segment.opened_at >= self.settings.max_age_s
        )

    def _append(self, events: list[Event], segment: OpenSegment | None) -> OpenSegment | None:
        table, bad = to_table(events, self.gateway_id)
        if bad:
            self._quarantine(bad)
        if table.num_rows == 0:
            return segment
        spool_bytes = self.progress.spool_bytes(segment.size if segment else 0)
        row_bytes = max(1, table.nbytes // table.num_rows)
        fits = max(0, (self.settings.spool_max_bytes - spool_bytes) // row_bytes)
        if fits < table.num_rows:
            self.gaps.drop_rows(table.slice(fits), "spool_full")
            if fits == 0:
                return segment
            table = table.slice(0, fits)
        offset = 0
        while offset < table.num_rows:
            try:
                if segment is None:
                    segment = self.spool.new_segment()
                piece = table.slice(offset, self._room(segment, row_bytes))
                segment.append(piece)
            except OSError as exc:
                self.progress.record_error(exc)
                self.gaps.drop_rows(table.slice(offset), "spool_error")
                if segment is not None:
                    self._abandon(segment)
                return None
            offset += piece.num_rows
            self.progress.grow_open_segment(segment.rows, piece.num_rows * row_bytes)
            if self._segment_full(segment):
                self._seal(segment)
                segment = None
        self.gaps.end_if_open()
        return segment

    def _room(self, segment: OpenSegment, row_bytes: int) -> int:
        """How many rows still fit the open segment (rotation cuts batches at the exact limit)."""
        by_rows = self.settings.max_rows - segment.rows
        by_bytes = (self.settings.max_bytes - self.progress.open_bytes) // row_bytes
        return max(1, min(by_rows, by_bytes))

    def _sync(self, segment: OpenSegment) -> OpenSegment | None:
        if segment.synced_rows == segment.rows:
            return segment
        try:
            newly = segment.sync(self.settings.fsync)
        except OSError as exc:
            self.progress.record_error(exc)
            self._abandon(segment)
            return None
        self.progress.add_durable(newly)
        return segment

    def _seal(self, segment: OpenSegment) -> None:
        unsynced = segment.rows - segment.synced_rows
        try:
            keep_table = self.progress.queued_memory_below(self.settings.max_bytes)
            sealed = segment.seal(self.settings.fsync, keep_table=keep_table)
        except OSError as exc:
            self.progress.record_error(exc)
            self._abandon(segment)
            return
        self.progress.add_durable(unsynced)
        self.progress.enqueue(sealed)

    def _abandon(self, segment: OpenSegment) -> None:
        """A segment the disk failed on: queue what of it is readable (its synced rows)."""
        segment.close()
        size = segment.path.stat().st_size if segment.path.exists() else 0
        self.progress.enqueue(Segment(segment.path, segment.seq, segment.synced_rows, size))

    def _quarantine(self, bad: list[tuple[Event, str]]) -> None:
        now_us = time.time_ns() // 1000
        lines = b"".join(
            orjson.dumps({"reason": reason, "event": event}, default=str) + b"\n" for event, reason in bad
        )
        log.error(
            "lake writer %s: %d events do not fit the event schema (first: %s); quarantined",
            self.gateway_id,
            len(bad),
            bad[0][1],
        )
        try:
            self.spool.put_outbox(writer_quarantine_path(self.gateway_id, now_us), lines)
        except OSError as exc:
            self.progress.record_error(exc)
            self.gaps.drop_events([event for event, _ in bad], "quarantine_error")
            return
        self.progress.quarantined(len(bad))
