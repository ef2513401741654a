"""The lake writer's uploader thread: sealed spool segments into the lake, one Parquet file per hour.

It writes each sealed segment as one Parquet file per ``dt``/``hour``, all encoded before the first
is written, and deletes the segment only once every file is in the lake; the outbox's small objects
(gap records, quarantined events) go up too. While the lake is unreachable it retries with
exponential backoff and jitter. A segment whose content cannot become Parquet is kept as it is in
``quarantine/writer/`` rather than retried forever.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import pyarrow as pa

from gateway_shim.telemetry.backoff import backoff_delay
from gateway_shim.telemetry.columnar import Event
from gateway_shim.telemetry.layout import writer_quarantine_path, writer_quarantined_segment_path
from gateway_shim.telemetry.parquet_encoding import hour_files
from gateway_shim.telemetry.spool import Segment, Spool, delete_segment, load_segment, quarantine_lines
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.writer_progress import WriterProgress
from gateway_shim.telemetry.writer_settings import WriterSettings

log = logging.getLogger("aigw.lake")

_DATA_ERRORS = (pa.ArrowException, ValueError, OverflowError)


@dataclass(eq=False)
class Uploader:
    """The uploader thread's work for one writer (see the module docstring); ``run`` is the thread."""

    gateway_id: str
    settings: WriterSettings
    lake: LakeLocation
    spool: Spool
    progress: WriterProgress
    rng: random.Random = field(default_factory=random.Random)

    def run(self) -> None:
        """Upload until the spooler is done and the queue is empty, or until told to stop."""
        failures = 0
        while True:
            work = self.progress.next_upload()
            if work is None:
                return
            if work.segment is None and work.outbox_target is None:
                continue
            try:
                if work.outbox_target is not None:
                    self._upload_outbox(work.outbox_target)
                if work.segment is not None:
                    self._upload_segment(work.segment)
            except Exception as exc:  # the lake is down or refusing: retry with backoff
                failures += 1
                delay = backoff_delay(
                    failures, self.settings.retry_base_s, self.settings.retry_max_s, self.rng
                )
                message = f"{type(exc).__name__}: {exc}"
                self.progress.set_last_error(message)
                if failures & (failures - 1) == 0:  # attempts 1, 2, 4, 8, ...: loud but not a flood
                    log.warning(
                        "lake writer %s: lake write failed (attempt %d, retry in %.2fs): %s",
                        self.gateway_id,
                        failures,
                        delay,
                        message,
                    )
                self.progress.pause_unless_stopped(delay)
                continue
            if failures:
                log.warning(
                    "lake writer %s: lake reachable again after %d failures", self.gateway_id, failures
                )
            failures = 0

    def _upload_outbox(self, target: int) -> None:
        for relative, path in self.spool.outbox():
            self.spool.upload_outbox_file(relative, path, self.lake.write_bytes)
        self.progress.outbox_uploaded(target)

    def _upload_segment(self, segment: Segment) -> None:
        written = files = invalid = 0
        if segment.path.exists():
            try:
                rows, encoded, bad = self._encode_segment(segment)
            except _DATA_ERRORS as exc:  # the segment's content is at fault, not the lake
                self._quarantine_segment(segment, exc)
                invalid = segment.rows
            else:
                if bad:  # a crashed writer's journal: its events were never checked against the schema
                    quarantine = writer_quarantine_path(self.gateway_id, time.time_ns() // 1000)
                    self.lake.write_bytes(quarantine, quarantine_lines(bad))
                for path, data in encoded:
                    self.lake.write_bytes(path, data)
                written, files, invalid = rows, len(encoded), len(bad)
            delete_segment(segment.path)
        self.progress.segment_uploaded(segment, written, invalid, files)

    def _encode_segment(
        self, segment: Segment
    ) -> tuple[int, list[tuple[str, pa.Buffer]], list[tuple[Event, str]]]:
        """The segment's row count and Parquet files, all encoded before the first is written, and the
        events that do not fit the schema."""
        bad: list[tuple[Event, str]] = []
        if segment.table is not None:
            table = segment.table
        else:
            table, bad = load_segment(segment.path, self.gateway_id)
        return table.num_rows, hour_files(self.gateway_id, segment.name, table), bad

    def _quarantine_segment(self, segment: Segment, exc: BaseException) -> None:
        """Keep an unreadable segment as it is in ``quarantine/writer/`` rather than retry it forever."""
        path = writer_quarantined_segment_path(self.gateway_id, segment.path.name)
        self.lake.write_bytes(path, segment.path.read_bytes())
        log.error(
            "lake writer %s: spool segment %s cannot be turned into Parquet (%s: %s); kept at %s",
            self.gateway_id,
            segment.name,
            type(exc).__name__,
            exc,
            path,
        )
