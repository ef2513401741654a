"""The lake writer's spooler thread: events from the inbox into the spool on disk, sealed into segments.

Every ``sync_interval_s``, or as soon as a caller waits for a commit (``commit_soon``; at most one
commit per ``commit_interval_s``), it appends the new events to the open segment's journal as JSON
lines (or, a thousand or more at once, as Arrow batches) and fsyncs it: from then on the events are
*durable* (a kill -9 cannot lose them), and it reports so to the commit log (``commits.py``), which
wakes the waiting responses. Events arriving during one fsync wait for the next: a group commit.
Every ``CONVERT_ROWS`` journal events it converts them to Arrow (``spool.py``), off the commit's path.
It seals the segment when it reaches ``max_rows``, ``max_bytes`` or ``max_age_s``, or for a flush, and
queues it for the uploader.
Events that do not fit the schema (found at conversion) or that JSON cannot hold go to the outbox
for ``quarantine/writer/``; events beyond the spool's cap or lost to a disk error are dropped,
reported as lost, and recorded in a gap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from itertools import accumulate

import pyarrow as pa

from gateway_shim.telemetry.columnar import Event, to_table
from gateway_shim.telemetry.commits import CommitLog
from gateway_shim.telemetry.gap_recorder import GapRecorder
from gateway_shim.telemetry.inbox import Inbox
from gateway_shim.telemetry.layout import writer_quarantine_path
from gateway_shim.telemetry.spool import (
    CONVERT_ROWS,
    OpenSegment,
    Segment,
    Spool,
    delete_segment,
    encode_journal,
    quarantine_lines,
)
from gateway_shim.telemetry.writer_progress import WriterProgress
from gateway_shim.telemetry.writer_settings import WriterSettings

log = logging.getLogger("aigw.lake")


class Spooler:
    """The spooler thread's work for one writer (see the module docstring); ``run`` is the thread."""

    def __init__(
        self,
        settings: WriterSettings,
        spool: Spool,
        inbox: Inbox,
        progress: WriterProgress,
        commits: CommitLog | None = None,
    ) -> None:
        self.gateway_id = progress.gateway_id
        self.settings = settings
        self.spool = spool
        self.inbox = inbox
        self.progress = progress
        self.commits = commits or CommitLog()
        self.gaps = GapRecorder(self.gateway_id, spool, progress, self.commits)
        """Only this thread drops events, so the gap records are its own."""
        self._wake = threading.Event()
        self._unsynced: list[tuple[list[Event] | pa.Table, Sequence[int]]] = []
        """Events appended to the open segment but not yet fsynced, with their sequence numbers."""
        self._lost: list[int] = []
        """Sequence numbers dropped in the current cycle."""

    def wake(self) -> None:
        """Run a cycle now rather than at the next interval (a flush, a close or a response waits)."""
        self._wake.set()

    def run(self) -> None:
        """Spool every ``sync_interval_s`` (or when woken) until told to stop."""
        segment: OpenSegment | None = None
        last_cycle = 0.0
        while True:
            if self._wake.wait(self.settings.sync_interval_s):
                pause = last_cycle + self.settings.commit_interval_s - time.monotonic()
                if pause > 0:  # let more events join this commit
                    time.sleep(pause)
            self._wake.clear()
            last_cycle = time.monotonic()
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
        events, last_seq, refusals = self.inbox.take()
        self._lost = []
        if refusals is not None:
            self.gaps.drop(refusals.count, refusals.first_ts, refusals.last_ts, refusals.reasons,
                           refusals.cost_usd)
        if events:
            segment = self._append(events, last_seq - len(events) + 1, segment)
        if segment is not None:
            segment = self._sync(segment)
        self.commits.report(last_seq, tuple(self._lost))
        if segment is not None and segment.unconverted >= CONVERT_ROWS:
            segment = self._convert(segment)
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

    def _append(self, events: list[Event], first_seq: int, segment: OpenSegment | None) -> OpenSegment | None:
        if len(events) >= CONVERT_ROWS:
            return self._append_table(events, first_seq, segment)
        good, lines, bad = encode_journal(events)
        seqs = self._set_aside(bad, events, first_seq)
        if not good:
            return segment
        room = self.settings.spool_max_bytes - self.progress.spool_bytes(segment.size if segment else 0)
        fits = _lines_within(lines, 0, room)
        if fits < len(good):
            self._drop(good[fits:], seqs[fits:], "spool_full")
            if fits == 0:
                return segment
            good, lines, seqs = good[:fits], lines[:fits], seqs[:fits]
        offset = 0
        while offset < len(good):
            try:
                if segment is None:
                    segment = self.spool.new_segment()
                end = offset + self._room(segment, lines, offset)
                piece, data = good[offset:end], b"".join(lines[offset:end])
                segment.append(piece, data)
            except OSError as exc:
                self.progress.record_error(exc)
                self._drop(good[offset:], seqs[offset:], "spool_error")
                if segment is not None:
                    self._abandon(segment)
                return None
            self._unsynced.append((piece, seqs[offset:end]))
            offset = end
            self.progress.grow_open_segment(segment.rows, len(data))
            if self._segment_full(segment):
                self._seal(segment)
                segment = None
        self.gaps.end_if_open()
        return segment

    def _append_table(self, events: list[Event], first_seq: int,
                      segment: OpenSegment | None) -> OpenSegment | None:
        """A big batch (a burst, a backlog): converted at once and appended to the Arrow file."""
        table, bad = to_table(events, self.gateway_id)
        seqs = self._set_aside(bad, events, first_seq)
        if table.num_rows == 0:
            return segment
        spool_bytes = self.progress.spool_bytes(segment.size if segment else 0)
        row_bytes = max(1, table.nbytes // table.num_rows)
        fits = max(0, (self.settings.spool_max_bytes - spool_bytes) // row_bytes)
        if fits < table.num_rows:
            self._drop(table.slice(fits), seqs[fits:], "spool_full")
            if fits == 0:
                return segment
            table, seqs = table.slice(0, fits), seqs[:fits]
        offset = 0
        while offset < table.num_rows:
            try:
                if segment is None:
                    segment = self.spool.new_segment()
                by_rows = self.settings.max_rows - segment.rows
                by_bytes = (self.settings.max_bytes - self.progress.open_bytes) // row_bytes
                piece = table.slice(offset, max(1, min(by_rows, by_bytes)))
                segment.append_table(piece)
            except OSError as exc:
                self.progress.record_error(exc)
                self._drop(table.slice(offset), seqs[offset:], "spool_error")
                if segment is not None:
                    self._abandon(segment)
                return None
            self._unsynced.append((piece, seqs[offset : offset + piece.num_rows]))
            offset += piece.num_rows
            self.progress.grow_open_segment(segment.rows, piece.num_rows * row_bytes)
            if self._segment_full(segment):
                self._seal(segment)
                segment = None
        self.gaps.end_if_open()
        return segment

    def _set_aside(self, bad: list[tuple[Event, str]], events: list[Event], first_seq: int) -> Sequence[int]:
        """Quarantine the events that cannot be spooled (reported lost if even that fails); the sequence
        numbers of the rest, in order."""
        seqs: Sequence[int] = range(first_seq, first_seq + len(events))
        if not bad:
            return seqs
        rejected = {id(event) for event, _ in bad}
        if not self._quarantine(bad):
            self._lost.extend(s for s, event in zip(seqs, events, strict=True) if id(event) in rejected)
        return [seq for seq, event in zip(seqs, events, strict=True) if id(event) not in rejected]

    def _room(self, segment: OpenSegment, lines: list[bytes], offset: int) -> int:
        """How many lines from ``offset`` still fit the open segment (rotation cuts at the exact limit)."""
        by_rows = self.settings.max_rows - segment.rows
        by_bytes = _lines_within(lines, offset, self.settings.max_bytes - self.progress.open_bytes)
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
        self._unsynced = []
        self.commits.recovered()
        self.progress.add_durable(newly)
        return segment

    def _convert(self, segment: OpenSegment) -> OpenSegment | None:
        try:
            bad = segment.convert(self.gateway_id)
        except OSError as exc:
            self.progress.record_error(exc)
            self._abandon(segment)
            return None
        if bad:
            self._quarantine(bad)
        return segment

    def _seal(self, segment: OpenSegment) -> None:
        unsynced = segment.rows - segment.synced_rows
        try:
            keep_table = self.progress.queued_memory_below(self.settings.max_bytes)
            sealed, bad = segment.seal(self.gateway_id, self.settings.fsync, keep_table=keep_table)
        except OSError as exc:
            self.progress.record_error(exc)
            self._abandon(segment)
            return
        self._unsynced = []
        self.commits.recovered()
        self.progress.add_durable(unsynced)
        if bad:
            self._quarantine(bad)
        if sealed is None:
            self.progress.discard_open_segment()
        else:
            self.progress.enqueue(sealed)

    def _drop(self, events: list[Event] | pa.Table, seqs: Sequence[int], reason: str) -> None:
        """Events that will not be durable: counted into the gap, their callers told they are lost."""
        if isinstance(events, pa.Table):
            self.gaps.drop_rows(events, reason)
        else:
            self.gaps.drop_events(events, reason)
        self._lost.extend(seqs)

    def _abandon(self, segment: OpenSegment) -> None:
        """A segment the disk failed on: its unsynced events are lost; queue its journal for what of it is
        readable (its synced events), or delete it if nothing is (no empty files left behind on a full
        disk)."""
        segment.close()
        for events, seqs in self._unsynced:
            self._drop(events, seqs, "spool_error")
        self._unsynced = []
        if segment.synced_rows == 0:
            delete_segment(segment.path)
            return
        size = segment.path.stat().st_size if segment.path.exists() else 0
        self.progress.enqueue(Segment(segment.path, segment.seq, segment.synced_rows, size))

    def _quarantine(self, bad: list[tuple[Event, str]]) -> bool:
        """Keep events that do not fit the schema for ``quarantine/writer/``; False if that failed."""
        now_us = time.time_ns() // 1000
        lines = quarantine_lines(bad)
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
            return False
        self.progress.quarantined(len(bad))
        return True


def _lines_within(lines: list[bytes], offset: int, budget: int) -> int:
    """How many of ``lines[offset:]`` fit in ``budget`` bytes."""
    count = 0
    for total in accumulate(len(line) for line in lines[offset:]):
        if total > budget:
            break
        count += 1
    return count
