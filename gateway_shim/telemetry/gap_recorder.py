"""The lake writer's account of what it drops: counts each loss into a gap record and keeps it in the outbox.

Used by the spooler thread only. A run of drops is one ``Gap`` (count, time span, estimated cost);
its record is rewritten at most once a second while it grows, so even a crash leaves the count
behind, and closed when events are taken again (or at a flush). A record that cannot be written
(the spool's disk is full) stays in memory and is retried every ``_GAP_RETRY_INTERVAL_S`` until
space returns. Drops are logged loudly, at most every few seconds.
"""

from __future__ import annotations

import logging
import time

import pyarrow as pa
import pyarrow.compute as pc

from gateway_shim.telemetry.columnar import Event, ts_range
from gateway_shim.telemetry.commits import CommitLog
from gateway_shim.telemetry.gaps import Gap
from gateway_shim.telemetry.spool import Spool
from gateway_shim.telemetry.writer_progress import WriterProgress

log = logging.getLogger("aigw.lake")

_DROP_LOG_INTERVAL_S = 5.0
_GAP_REWRITE_INTERVAL_S = 1.0
_GAP_RETRY_INTERVAL_S = 0.1


class GapRecorder:
    """Dropped events → gap records in the spool's outbox (see the module docstring)."""

    def __init__(self, gateway_id: str, spool: Spool, progress: WriterProgress,
                 commits: CommitLog | None = None) -> None:
        self._gateway_id = gateway_id
        self._spool = spool
        self._progress = progress
        self._commits = commits or CommitLog()
        self._gap: Gap | None = None
        self._gap_written_at = 0.0
        self._retry_at = 0.0
        self._last_drop_log = 0.0

    def drop_events(self, events: list[Event], reason: str) -> None:
        first, last = ts_range(events)
        cost = sum(c for event in events if isinstance(c := event.get("estimated_cost_usd"), int | float))
        self.drop(len(events), first, last, reason, cost)

    def drop_rows(self, rows: pa.Table, reason: str) -> None:
        bounds = pc.min_max(rows["ts"].cast(pa.int64()))
        cost = pc.sum(rows["estimated_cost_usd"]).as_py() or 0.0
        self.drop(rows.num_rows, bounds["min"].as_py(), bounds["max"].as_py(), reason, cost)

    def drop(self, count: int, first: int | None, last: int | None, reason: str,
             cost_usd: float = 0.0) -> None:
        """Count ``count`` dropped events (event times ``first``..``last``) into the open gap."""
        if self._gap is None:
            self._gap = Gap(self._gateway_id, reason)
            self._gap_written_at = 0.0
        self._gap.add(count, first, last, reason, cost_usd)
        total = self._progress.add_dropped(count)
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL_S:
            self._last_drop_log = now
            log.error(
                "LAKE WRITER %s IS DROPPING EVENTS (%s): %d dropped so far; gap recorded at %s",
                self._gateway_id,
                reason,
                total,
                self._gap.lake_path,
            )

    def tend(self, final: bool) -> None:
        """Keep the open gap's record current on disk, so even a crash leaves the count behind."""
        if self._gap is None:
            return
        now = time.monotonic()
        if now < self._retry_at and not final:  # a flush or close always tries once more
            return
        if final:
            self._end_gap()
        elif now - self._gap_written_at >= _GAP_REWRITE_INTERVAL_S:
            self._write_gap(self._gap)

    def end_if_open(self) -> None:
        """Events are taken again: the open gap, if any, ends here."""
        if self._gap is not None and time.monotonic() >= self._retry_at:
            self._end_gap()

    def _end_gap(self) -> None:
        assert self._gap is not None
        self._gap.ended_us = time.time_ns() // 1000
        if self._write_gap(self._gap):
            self._gap = None

    def _write_gap(self, gap: Gap) -> bool:
        first_write = self._gap_written_at == 0.0
        try:
            self._spool.put_outbox(gap.lake_path, gap.to_json())
        except OSError as exc:
            self._progress.record_error(exc)
            self._retry_at = time.monotonic() + _GAP_RETRY_INTERVAL_S
            return False
        self._commits.recovered()
        self._retry_at = 0.0
        self._gap_written_at = time.monotonic()
        self._progress.gap_written(first_write)
        return True
