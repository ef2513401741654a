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
import threading

import pyarrow as pa

from gateway_shim.telemetry.backoff import backoff_delay
from gateway_shim.telemetry.layout import writer_quarantined_segment_path
from gateway_shim.telemetry.parquet_encoding import hour_files
from gateway_shim.telemetry.spool import Segment, Spool, read_segment
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.writer_progress import WriterProgress
from gateway_shim.telemetry.writer_settings import WriterSettings

log = logging.getLogger("aigw.lake")

_DATA_ERRORS = (pa.ArrowException, ValueError, OverflowError)


class Uploader:
    """Runs the uploader thread of one writer (see the module docstring)."""

    def __init__(
        self,
        gateway_id: str,
        settings: WriterSettings,
        lake: LakeLocation,
        spool: Spool,
        progress: WriterProgress,
    ) -> None:
        self._gateway_id = gateway_id
        self._settings = settings
        self._lake = lake
        self._spool = spool
        self._progress = progress
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"lake-upload-{gateway_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        failures = 0
        while True:
            work = self._progress.next_upload()
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
                    failures, self._settings.retry_base_s, self._settings.retry_max_s, self._rng
                )
                message = f"{type(exc).__name__}: {exc}"
                self._progress.set_last_error(message)
                if failures & (failures - 1) == 0:  # attempts 1, 2, 4, 8, ...: loud but not a flood
                    log.warning(
                        "lake writer %s: lake write failed (attempt %d, retry in %.2fs): %s",
                        self._gateway_id,
                        failures,
                        delay,
                        message,
                    )
                self._progress.pause_unless_stopped(delay)
                continue
            if failures:
                log.warning(
                    "lake writer %s: lake reachable again after %d failures", self._gateway_id, failures
                )
            failures = 0

    def _upload_outbox(self, target: int) -> None:
        for relative, path in self._spool.outbox():
            self._spool.upload_outbox_file(relative, path, self._lake.write_bytes)
        self._progress.outbox_uploaded(target)

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
                    self._lake.write_bytes(path, data)
                written, files = rows, len(encoded)
            segment.path.unlink()
        self._progress.segment_uploaded(segment, written, invalid, files)

    def _encode_segment(self, segment: Segment) -> tuple[int, list[tuple[str, pa.Buffer]]]:
        """The segment's row count and Parquet files, all encoded before the first is written."""
        table = segment.table if segment.table is not None else read_segment(segment.path)
        return table.num_rows, hour_files(self._gateway_id, segment.name, table)

    def _quarantine_segment(self, segment: Segment, exc: BaseException) -> None:
        """Keep an unreadable segment as it is in ``quarantine/writer/`` rather than retry it forever."""
        path = writer_quarantined_segment_path(self._gateway_id, segment.name)
        self._lake.write_bytes(path, segment.path.read_bytes())
        log.error(
            "lake writer %s: spool segment %s cannot be turned into Parquet (%s: %s); kept at %s",
            self._gateway_id,
            segment.name,
            type(exc).__name__,
            exc,
            path,
        )
