"""The lake writer: one event dict per request in, hourly zstd Parquet files in the lake out.

``emit`` only appends to a list under a lock. Two background threads do the rest:

* the spooler, every ``sync_interval_s``, converts the new events to Arrow record batches, appends them to
  the open spool segment and fsyncs it (from then on the events are *durable*: a kill -9 cannot
  lose them); it seals the segment when it reaches ``max_rows``, ``max_bytes`` or ``max_age_s``;
* the uploader writes each sealed segment to the lake as one Parquet file per ``dt``/``hour``,
  retrying with exponential backoff and jitter while the lake is unreachable, and deletes the
  segment only once every file is written.

Delivery is at least once (``event_id`` deduplicates). When the spool reaches its cap, new events
are dropped, counted, logged and recorded as a gap object in the lake; the process keeps running.
See docs/lake.md for the guarantees and their limits.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import random
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gateway_shim.telemetry.columnar import Event, to_record_batch, to_table, ts_range
from gateway_shim.telemetry.gaps import Gap
from gateway_shim.telemetry.layout import QUARANTINE_PREFIX, events_file_path, quarantine_path, split_by_hour
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.spool import OpenSegment, Segment, Spool, read_segment
from gateway_shim.telemetry.storage import LakeLocation

log = logging.getLogger("aigw.lake")

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*$")
_DROP_LOG_INTERVAL_S = 5.0
_GAP_REWRITE_INTERVAL_S = 1.0
_DATA_ERRORS = (pa.ArrowException, ValueError, OverflowError)


@dataclass(frozen=True)
class WriterSettings:
    """Rotation, durability and retry knobs; the defaults suit 1 to 5,000 events/s per gateway."""

    max_rows: int = 150_000
    """Seal a segment (and so cut its Parquet files) at this many events."""
    max_bytes: int = 64 * 2**20
    """... or at this many bytes of Arrow data (bounds the uploader's memory)."""
    max_age_s: float = 60.0
    """... or this long after its first event: how stale the lake may be at low traffic."""
    sync_interval_s: float = 0.05
    """How often new events are appended to the spool and flushed to disk (kill -9 window)."""
    fsync: bool = True
    """fsync the spool too (survives power loss, not only process death)."""
    spool_max_bytes: int = 2 * 2**30
    """Spool size cap; beyond it new events are dropped, counted and recorded as a gap."""
    max_pending: int = 1_000_000
    """Events waiting for the spooler; beyond it ``emit`` drops (only if the spooler is stuck)."""
    retry_base_s: float = 0.25
    retry_max_s: float = 15.0
    close_timeout_s: float = 30.0
    """What ``flush``/``close`` wait by default for the lake before leaving the rest in the spool."""


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


def default_spool_dir(gateway_id: str) -> Path:
    """``$AIGW_SPOOL/<gateway_id>`` or ``./.aigw/spool/<gateway_id>``."""
    return Path(os.environ.get("AIGW_SPOOL") or "./.aigw/spool") / gateway_id


_UNIQUE_COLUMNS = frozenset(("event_id", "trace_id", "user_id"))
_DICTIONARY_COLUMNS = [
    field.name
    for field in EVENT_SCHEMA
    if field.name not in _UNIQUE_COLUMNS and (pa.types.is_string(field.type) or pa.types.is_list(field.type))
]
"""Dictionary-encode only the columns with few distinct values (tenants, models, outcomes...): ids and
measurements almost never repeat, so their dictionaries only cost time and bytes (in an hour file
of 2,000 realistic events, 20 % of the encoding time and of the file)."""


def encode_parquet(table: pa.Table) -> pa.Buffer:
    """One whole zstd Parquet file in memory."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", use_dictionary=_DICTIONARY_COLUMNS)
    return sink.getvalue()


def hour_files(gateway_id: str, segment_name: str, table: pa.Table) -> list[tuple[str, pa.Buffer]]:
    """The table's rows as encoded Parquet files, one per hourly partition, with their lake paths."""
    return [
        (events_file_path(gateway_id, segment_name, partition), encode_parquet(partition.table))
        for partition in split_by_hour(table)
    ]


def backoff_delay(failures: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(failures-1))]."""
    return rng.uniform(0.0, min(max_s, base_s * 2 ** min(failures - 1, 30)))


class LakeWriter:
    """Thread-safe, non-blocking event sink for the lake (see the module docstring)."""

    def __init__(
        self,
        lake: LakeLocation | str,
        gateway_id: str,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        settings: WriterSettings | None = None,
        **overrides: Any,
    ) -> None:
        if not _GATEWAY_ID.match(gateway_id):
            raise ValueError(f"gateway_id {gateway_id!r}: use letters, digits, '.', '_' and inner '-'")
        self.lake = lake if isinstance(lake, LakeLocation) else LakeLocation.parse(lake)
        self.gateway_id = gateway_id
        self.settings = dataclasses.replace(settings or WriterSettings(), **overrides)
        self._spool = Spool(Path(spool_dir) if spool_dir is not None else default_spool_dir(gateway_id))
        self._rng = random.Random()

        # emit's state: the only thing the caller's thread touches.
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._accepted = 0
        self._refused = 0  # emits turned away (closed, or the spooler hopelessly behind)
        self._refused_ts: list[int] = []  # first and last ts among them
        self._refused_reasons: set[str] = set()
        self._closed = False

        # background state, guarded by _cond.
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._queue: deque[Segment] = deque()
        self._open_rows = 0
        self._open_bytes = 0
        self._queued_rows = 0
        self._queued_bytes = 0
        self._queued_memory = 0
        self._durable = 0
        self._written = 0
        self._dropped = 0
        self._invalid = 0
        self._replayed = 0
        self._files_written = 0
        self._gaps_recorded = 0
        self._last_error: str | None = None
        self._flush_requested = 0
        self._flush_handled = 0
        self._barrier_seq = -1
        self._sealed_seq = -1
        self._barrier_outbox = 0
        self._uploaded_seq = -1
        self._outbox_written = 0
        self._outbox_uploaded = 0
        self._spooler_done = False
        self._stopping = False
        self._stop_upload = False
        self._started = False

        # spooler-only state.
        self._gap: Gap | None = None
        self._gap_written_at = 0.0
        self._last_drop_log = 0.0

        self._spooler = threading.Thread(
            target=self._spool_loop, name=f"lake-spool-{gateway_id}", daemon=True
        )
        self._uploader = threading.Thread(
            target=self._upload_loop, name=f"lake-upload-{gateway_id}", daemon=True
        )

    # ---- caller side -------------------------------------------------------------------------

    def start(self) -> LakeWriter:
        """Take the spool, queue what an earlier run left in it, and start the background threads."""
        if self._started:
            return self
        to_record_batch([{}], self.gateway_id)  # pyarrow's lazy imports happen here, not at exit
        leftovers = self._spool.open()
        with self._cond:
            for segment in leftovers:
                self._queue.append(segment)
                self._queued_rows += segment.rows
                self._queued_bytes += segment.size
                self._replayed += segment.rows
            self._sealed_seq = self._barrier_seq = max((s.seq for s in leftovers), default=-1)
            if self._spool.outbox():
                self._outbox_written = 1
        if leftovers:
            log.warning(
                "lake writer %s: replaying %d events from %d spool segments",
                self.gateway_id,
                self._replayed,
                len(leftovers),
            )
        self._started = True
        self._spooler.start()
        self._uploader.start()
        atexit.register(self._close_at_exit)
        return self

    def emit(self, event: Event) -> None:
        """Take one event (the writer owns the dict from now on). O(1); never touches disk or network."""
        with self._lock:
            if self._closed or len(self._pending) >= self.settings.max_pending:
                self._refuse(event)
                return
            self._pending.append(event)
            self._accepted += 1

    def _refuse(self, event: Event) -> None:
        """Count an event that cannot be taken (called under ``_lock``); keeps no reference to it."""
        self._refused += 1
        self._refused_reasons.add("writer_closed" if self._closed else "pending_full")
        ts = event.get("ts")
        if isinstance(ts, int):
            if not self._refused_ts:
                self._refused_ts = [ts, ts]
            else:
                self._refused_ts = [min(self._refused_ts[0], ts), max(self._refused_ts[1], ts)]

    def flush(self, timeout: float | None = None) -> bool:
        """Seal the open segment and wait until everything emitted so far is in the lake.

        Returns False if that did not happen within ``timeout`` (default ``close_timeout_s``);
        the events are then still safe in the spool.
        """
        timeout = self.settings.close_timeout_s if timeout is None else timeout
        with self._cond:
            self._flush_requested += 1
            ticket = self._flush_requested
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: self._drained(ticket), timeout=timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking events, flush everything to the lake, stop the threads, release the spool.

        Returns False if the lake could not take everything within ``timeout``; what is left stays
        in the spool and is replayed by the next writer on the same spool directory.
        """
        with self._lock:
            if self._closed:
                return True
            self._closed = True
            unstarted_backlog = bool(self._pending)
        if not self._started:
            if not unstarted_backlog:
                return True
            self.start()
        atexit.unregister(self._close_at_exit)
        deadline = time.monotonic() + (self.settings.close_timeout_s if timeout is None else timeout)
        drained = self.flush(timeout=max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._wake.set()
        self._spooler.join(timeout=max(1.0, deadline - time.monotonic()))
        with self._cond:
            self._stop_upload = not drained
            self._cond.notify_all()
        self._uploader.join(timeout=max(1.0, deadline - time.monotonic()))
        self._spool.close()
        stats = self.stats()
        if not drained:
            log.warning(
                "lake writer %s closed with %d events still in the spool %s (replayed on next start)",
                self.gateway_id,
                stats["backlog"],
                self._spool.directory,
            )
        if stats["dropped"]:
            log.error(
                "lake writer %s dropped %d events in total (see gaps/)", self.gateway_id, stats["dropped"]
            )
        return drained

    def stats(self) -> WriterStats:
        with self._lock:
            accepted, pending, refused = self._accepted, len(self._pending), self._refused
        with self._cond:
            return WriterStats(
                accepted=accepted,
                durable=self._durable,
                written=self._written,
                backlog=pending + self._open_rows + self._queued_rows,
                dropped=self._dropped + refused,
                invalid=self._invalid,
                replayed=self._replayed,
                files_written=self._files_written,
                gaps_recorded=self._gaps_recorded,
                spool_bytes=self._open_bytes + self._queued_bytes,
                last_error=self._last_error,
            )

    def __enter__(self) -> LakeWriter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drained(self, ticket: int) -> bool:
        return (
            self._flush_handled >= ticket
            and self._uploaded_seq >= self._barrier_seq
            and self._outbox_uploaded >= self._barrier_outbox
        ) or self._stop_upload

    def _close_at_exit(self) -> None:
        if not self.close():
            log.error("lake writer %s: exit before the lake took everything; spool kept", self.gateway_id)

    # ---- spooler thread ----------------------------------------------------------------------

    def _spool_loop(self) -> None:
        segment: OpenSegment | None = None
        while True:
            self._wake.wait(self.settings.sync_interval_s)
            self._wake.clear()
            try:
                segment = self._spool_once(segment)
            except Exception as exc:  # a bug here must not silently stop the spooling
                log.exception("lake writer %s: spooler error", self.gateway_id)
                self._record_error(exc)
                if self._stopping:
                    with self._cond:
                        self._spooler_done = True
                        self._cond.notify_all()
            if self._spooler_done:
                return

    def _spool_once(self, segment: OpenSegment | None) -> OpenSegment | None:
        """One spooler cycle: take new events, append and sync them, seal and answer flushes."""
        with self._cond:
            ticket, stopping = self._flush_requested, self._stopping
        with self._lock:
            events, self._pending = self._pending, []
            refused, self._refused = self._refused, 0
            refused_ts, self._refused_ts = self._refused_ts, []
            reasons, self._refused_reasons = self._refused_reasons, set()
        if refused:
            first, last = refused_ts or (None, None)
            self._drop_count(refused, first, last, ",".join(sorted(reasons)))
        if events:
            segment = self._append(events, segment)
        if segment is not None:
            segment = self._sync(segment)
        seal = ticket > self._flush_handled or stopping
        if segment is not None and (seal or self._segment_full(segment)):
            self._seal(segment)
            segment = None
        self._tend_gap(final=seal)
        if ticket > self._flush_handled:
            with self._cond:
                self._flush_handled = ticket
                self._barrier_seq = self._sealed_seq
                self._barrier_outbox = self._outbox_written
                self._cond.notify_all()
        if stopping:
            with self._cond:
                self._spooler_done = True
                self._cond.notify_all()
        return segment

    def _segment_full(self, segment: OpenSegment) -> bool:
        return (
            segment.rows >= self.settings.max_rows
            or self._open_bytes >= self.settings.max_bytes
            or time.monotonic() - segment.opened_at >= self.settings.max_age_s
        )

    def _append(self, events: list[Event], segment: OpenSegment | None) -> OpenSegment | None:
        table, bad = to_table(events, self.gateway_id)
        if bad:
            self._quarantine(bad)
        if table.num_rows == 0:
            return segment
        with self._cond:
            spool_bytes = self._queued_bytes + (segment.size if segment else 0)
        row_bytes = max(1, table.nbytes // table.num_rows)
        fits = max(0, (self.settings.spool_max_bytes - spool_bytes) // row_bytes)
        if fits < table.num_rows:
            self._drop_rows(table.slice(fits), "spool_full")
            if fits == 0:
                return segment
            table = table.slice(0, fits)
        offset = 0
        while offset < table.num_rows:
            try:
                if segment is None:
                    segment = self._spool.new_segment()
                piece = table.slice(offset, self._room(segment, row_bytes))
                segment.append(piece)
            except OSError as exc:
                self._record_error(exc)
                self._drop_rows(table.slice(offset), "spool_error")
                if segment is not None:
                    self._abandon(segment)
                return None
            offset += piece.num_rows
            with self._cond:
                self._open_rows = segment.rows
                self._open_bytes += piece.num_rows * row_bytes
            if self._segment_full(segment):
                self._seal(segment)
                segment = None
        if self._gap is not None:
            self._end_gap()
        return segment

    def _room(self, segment: OpenSegment, row_bytes: int) -> int:
        """How many rows still fit the open segment (rotation cuts batches at the exact limit)."""
        by_rows = self.settings.max_rows - segment.rows
        by_bytes = (self.settings.max_bytes - self._open_bytes) // row_bytes
        return max(1, min(by_rows, by_bytes))

    def _sync(self, segment: OpenSegment) -> OpenSegment | None:
        if segment.synced_rows == segment.rows:
            return segment
        try:
            newly = segment.sync(self.settings.fsync)
        except OSError as exc:
            self._record_error(exc)
            self._abandon(segment)
            return None
        with self._cond:
            self._durable += newly
        return segment

    def _seal(self, segment: OpenSegment) -> None:
        unsynced = segment.rows - segment.synced_rows
        try:
            with self._cond:
                keep_table = self._queued_memory < self.settings.max_bytes
            sealed = segment.seal(self.settings.fsync, keep_table=keep_table)
        except OSError as exc:
            self._record_error(exc)
            self._abandon(segment)
            return
        with self._cond:
            self._durable += unsynced
        self._enqueue(sealed)

    def _abandon(self, segment: OpenSegment) -> None:
        """A segment the disk failed on: queue what of it is readable (its synced rows)."""
        segment.close()
        size = segment.path.stat().st_size if segment.path.exists() else 0
        self._enqueue(Segment(segment.path, segment.seq, segment.synced_rows, size))

    def _enqueue(self, segment: Segment) -> None:
        with self._cond:
            self._queue.append(segment)
            self._queued_rows += segment.rows
            self._queued_bytes += segment.size
            self._queued_memory += segment.table.nbytes if segment.table is not None else 0
            self._sealed_seq = segment.seq
            self._open_rows = 0
            self._open_bytes = 0
            self._cond.notify_all()

    def _quarantine(self, bad: list[tuple[Event, str]]) -> None:
        now_us = time.time_ns() // 1000
        lines = b"".join(
            orjson.dumps({"reason": reason, "event": event}, default=str) + b"\n" for event, reason in bad
        )
        log.error(
            "lake writer %s: %d events do not fit schema v1 (first: %s); quarantined",
            self.gateway_id,
            len(bad),
            bad[0][1],
        )
        try:
            self._spool.put_outbox(quarantine_path(self.gateway_id, now_us), lines)
        except OSError as exc:
            self._record_error(exc)
            self._drop([event for event, _ in bad], "quarantine_error")
            return
        with self._cond:
            self._invalid += len(bad)
            self._outbox_written += 1
            self._cond.notify_all()

    def _drop(self, events: list[Event], reason: str) -> None:
        first, last = ts_range(events)
        self._drop_count(len(events), first, last, reason)

    def _drop_rows(self, rows: pa.Table, reason: str) -> None:
        bounds = pc.min_max(rows["ts"].cast(pa.int64()))
        self._drop_count(rows.num_rows, bounds["min"].as_py(), bounds["max"].as_py(), reason)

    def _drop_count(self, count: int, first: int | None, last: int | None, reason: str) -> None:
        if self._gap is None:
            self._gap = Gap(self.gateway_id, reason)
            self._gap_written_at = 0.0
        self._gap.add(count, first, last, reason)
        with self._cond:
            self._dropped += count
            total = self._dropped
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL_S:
            self._last_drop_log = now
            log.error(
                "LAKE WRITER %s IS DROPPING EVENTS (%s): %d dropped so far; gap recorded at %s",
                self.gateway_id,
                reason,
                total,
                self._gap.lake_path,
            )

    def _tend_gap(self, final: bool) -> None:
        """Keep the open gap's record current on disk, so even a crash leaves the count behind."""
        if self._gap is None:
            return
        if final:
            self._end_gap()
        elif time.monotonic() - self._gap_written_at >= _GAP_REWRITE_INTERVAL_S:
            self._write_gap(self._gap)

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
            self._record_error(exc)
            return False
        self._gap_written_at = time.monotonic()
        with self._cond:
            self._gaps_recorded += int(first_write)
            self._outbox_written += 1
            self._cond.notify_all()
        return True

    def _record_error(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._last_error = message
        log.error("lake writer %s: %s", self.gateway_id, message)

    # ---- uploader thread ---------------------------------------------------------------------

    def _upload_loop(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(self._upload_work, timeout=1.0)
                if self._stop_upload:
                    return
                segment = self._queue[0] if self._queue else None
                outbox_target = self._outbox_written
                outbox_due = outbox_target > self._outbox_uploaded
                if segment is None and not outbox_due and self._spooler_done:
                    return
            if segment is None and not outbox_due:
                continue
            try:
                if outbox_due:
                    self._upload_outbox(outbox_target)
                if segment is not None:
                    self._upload_segment(segment)
            except Exception as exc:  # the lake is down or refusing: retry with backoff
                failures += 1
                delay = backoff_delay(
                    failures, self.settings.retry_base_s, self.settings.retry_max_s, self._rng
                )
                message = f"{type(exc).__name__}: {exc}"
                with self._cond:
                    self._last_error = message
                if failures & (failures - 1) == 0:  # attempts 1, 2, 4, 8, ...: loud but not a flood
                    log.warning(
                        "lake writer %s: lake write failed (attempt %d, retry in %.2fs): %s",
                        self.gateway_id,
                        failures,
                        delay,
                        message,
                    )
                with self._cond:
                    self._cond.wait_for(lambda: self._stop_upload, timeout=delay)
                continue
            if failures:
                log.warning(
                    "lake writer %s: lake reachable again after %d failures", self.gateway_id, failures
                )
            failures = 0

    def _upload_work(self) -> bool:
        return bool(
            self._queue
            or self._outbox_written > self._outbox_uploaded
            or self._stop_upload
            or self._spooler_done
        )

    def _upload_outbox(self, target: int) -> None:
        for relative, path in self._spool.outbox():
            self._spool.upload_outbox_file(relative, path, self.lake.write_bytes)
        with self._cond:
            self._outbox_uploaded = max(self._outbox_uploaded, target)
            self._cond.notify_all()

    def _upload_segment(self, segment: Segment) -> None:
        written = files = invalid = 0
        if segment.path.exists():
            try:
                rows, encoded = self._encode_segment(segment)
            except _DATA_ERRORS as exc:  # the segment's content is at fault, not the lake
                self._quarantine_segment(segment, exc)
                invalid = segment.rows
            else:
                for path, data in encoded:
                    self.lake.write_bytes(path, data)
                written, files = rows, len(encoded)
            segment.path.unlink()
        with self._cond:
            self._queue.popleft()
            self._queued_rows -= segment.rows
            self._queued_bytes -= segment.size
            self._queued_memory -= segment.table.nbytes if segment.table is not None else 0
            self._written += written
            self._invalid += invalid
            self._files_written += files
            self._uploaded_seq = segment.seq
            self._cond.notify_all()

    def _encode_segment(self, segment: Segment) -> tuple[int, list[tuple[str, pa.Buffer]]]:
        """The segment's row count and Parquet files, all encoded before the first is written."""
        table = segment.table if segment.table is not None else read_segment(segment.path)
        return table.num_rows, hour_files(self.gateway_id, segment.name, table)

    def _quarantine_segment(self, segment: Segment, exc: BaseException) -> None:
        """Keep an unreadable segment as it is in ``quarantine/writer/`` rather than retry it forever."""
        path = f"{QUARANTINE_PREFIX}/{self.gateway_id}-{segment.name}.arrows"
        self.lake.write_bytes(path, segment.path.read_bytes())
        log.error(
            "lake writer %s: spool segment %s cannot be turned into Parquet (%s: %s); kept at %s",
            self.gateway_id,
            segment.name,
            type(exc).__name__,
            exc,
            path,
        )


def exit_on_sigterm() -> None:
    """Turn SIGTERM into a normal interpreter exit, so every writer's close-at-exit flushes the lake.

    For processes that do not handle SIGTERM themselves (the simulator, scripts); a server that
    shuts down on its own should call ``LakeWriter.close()`` in its shutdown path instead.
    """
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
