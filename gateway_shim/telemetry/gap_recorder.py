"""The lake writer's account of what it drops: counts each loss into a gap record and keeps it in the outbox.

Used by the spooler thread only. A run of drops is one ``Gap``; its record is rewritten at most once
a second while it grows, so even a crash leaves the count behind, and closed when events are
taken again (or at a flush). Drops are logged loudly, at most every few seconds.
"""

from __future__ import annotations

import logging
import time

import pyarrow as pa
import pyarrow.compute as pc

from gateway_shim.telemetry.columnar import Event, ts_range
from gateway_shim.telemetry.gaps import Gap
from gateway_shim.telemetry.spool import Spool
from gateway_shim.telemetry.writer_progress import WriterProgress

log = logging.getLogger("aigw.lake")

_DROP_LOG_INTERVAL_S = 5.0
_GAP_REWRITE_INTERVAL_S = 1.0


class GapRecorder:
    """Dropped events → gap records in the spool's outbox (see the module docstring)."""

    def __init__(self, gateway_id: str, spool: Spool, progress: WriterProgress) -> None:
        self._gateway_id = gateway_id
        self._spool = spool
        self._progress = progress
        self._gap: Gap | None = None
        self._gap_written_at = 0.0
        self._last_drop_log = 0.0

    def drop_events(self, events: list[Event], reason: str) -> None:
        first, last = ts_range(events)
        self.drop(len(events), first, last, reason)

    def drop_rows(self, rows: pa.Table, reason: str) -> None:
        bounds = pc.min_max(rows["ts"].cast(pa.int64()))
        self.drop(rows.num_rows, bounds["min"].as_py(), bounds["max"].as_py(), reason)

    def drop(self, count: int, first: int | None, last: int | None, reason: str) -> None:
        """Count ``count`` dropped events (event times ``first``..``last``) into the open gap."""
        if self._gap is None:
            self._gap = Gap(self._gateway_id, reason)
            self._gap_written_at = 0.0
        self._gap.add(count, first, last, reason)
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
        if final:
            self._end_gap()
        elif time.monotonic() - self._gap_written_at >= _GAP_REWRITE_INTERVAL_S:
            self._write_gap(self._gap)

    def end_if_open(self) -> None:
        """Events are taken again: the open gap, if any, ends here."""
        if self._gap is not None:
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
            return False
        self._gap_written_at = time.monotonic()
        self._progress.gap_written(first_write)
        return True
