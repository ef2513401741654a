"""The lake writer: one event dict per request in, hourly zstd Parquet files in the lake out.

``LakeWriter`` is the front the server wires: ``emit`` only appends to the inbox (``inbox.py``)
under a lock. Two background threads do the rest:

* the spooler (``spooler.py``), every ``sync_interval_s`` or as soon as a caller waits for a commit
  (``commit_soon``), appends the new events to the open spool segment and fsyncs it (from then on
  they are *durable*: a kill -9 cannot lose them), reports each event's sequence number as durable
  or lost to ``commits`` (``commits.py``), and seals the segment when it is big or old enough;
* the uploader (``uploader.py``) writes each sealed segment to the lake as one Parquet file per
  ``dt``/``hour`` (``parquet_encoding.py``), retrying with backoff (``backoff.py``) while the lake is
  unreachable, and deletes the segment only once every file is written.

They share their state through ``WriterProgress`` (``writer_progress.py``). Delivery is at least
once (``event_id`` deduplicates). When the spool reaches its cap, new events are dropped, counted,
logged and recorded as a gap object in the lake (``gap_recorder.py``); the process keeps running.
See docs/lake.md for the guarantees and their limits.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_shim.telemetry.background_thread import background_thread
from gateway_shim.telemetry.columnar import Event, to_record_batch
from gateway_shim.telemetry.commits import CommitLog
from gateway_shim.telemetry.inbox import Inbox
from gateway_shim.telemetry.spool import Spool
from gateway_shim.telemetry.spooler import Spooler
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.uploader import Uploader
from gateway_shim.telemetry.writer_progress import WriterProgress, WriterStats
from gateway_shim.telemetry.writer_settings import WriterSettings

__all__ = ["LakeWriter", "WriterSettings", "WriterStats", "default_spool_dir"]

log = logging.getLogger("aigw.lake")

_GATEWAY_ID = re.compile(r"^[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*$")


def default_spool_dir(gateway_id: str) -> Path:
    """``$AIGW_SPOOL/<gateway_id>`` or ``./.aigw/spool/<gateway_id>``."""
    return Path(os.environ.get("AIGW_SPOOL") or "./.aigw/spool") / gateway_id


class LakeWriter:
    """Thread-safe, non-blocking event sink for the lake (see the module docstring)."""

    emit: Callable[[Event], int]
    """Take one event (the writer owns the dict from now on); its sequence number (0: refused, only
    counted). O(1); never touches disk or network.

    The inbox's own ``put``, bound at construction: a request pays no extra call for the front."""

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
        self._inbox = Inbox(self.settings.max_pending)
        self.emit = self._inbox.put
        self._progress = WriterProgress(gateway_id)
        self.commits = CommitLog()
        """Which sequence numbers are durable or lost; subscribe to wait for them."""
        self._spooler = Spooler(self.settings, self._spool, self._inbox, self._progress, self.commits)
        self.commit_soon = self._spooler.wake
        """Ask for a commit now (within ``commit_interval_s``) rather than at the next interval."""
        uploader = Uploader(gateway_id, self.settings, self.lake, self._spool, self._progress)
        self._spooler_thread = background_thread(self._spooler.run, f"lake-spool-{gateway_id}")
        self._uploader_thread = background_thread(uploader.run, f"lake-upload-{gateway_id}")
        self._started = False

    def start(self) -> LakeWriter:
        """Take the spool, queue what an earlier run left in it, and start the background threads."""
        if self._started:
            return self
        to_record_batch([{}], self.gateway_id)  # pyarrow's lazy imports happen here, not at exit
        leftovers = self._spool.open()
        replayed = self._progress.replay(leftovers, outbox_waiting=bool(self._spool.outbox()))
        if leftovers:
            log.warning(
                "lake writer %s: replaying %d events from %d spool segments",
                self.gateway_id,
                replayed,
                len(leftovers),
            )
        self._started = True
        self._spooler_thread.start()
        self._uploader_thread.start()
        atexit.register(self._close_at_exit)
        return self

    def flush(self, timeout: float | None = None) -> bool:
        """Seal the open segment and wait until everything emitted so far is in the lake.

        Returns False if that did not happen within ``timeout`` (default ``close_timeout_s``);
        the events are then still safe in the spool.
        """
        timeout = self.settings.close_timeout_s if timeout is None else timeout
        ticket = self._progress.request_flush()
        self._spooler.wake()
        return self._progress.wait_drained(ticket, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking events, flush everything to the lake, stop the threads, release the spool.

        Returns False if the lake could not take everything within ``timeout``; what is left stays
        in the spool and is replayed by the next writer on the same spool directory.
        """
        if not self._inbox.close():
            return True
        if not self._started:
            _, pending, _ = self._inbox.counts()
            if not pending:
                return True
            self.start()
        atexit.unregister(self._close_at_exit)
        deadline = time.monotonic() + (self.settings.close_timeout_s if timeout is None else timeout)
        drained = self.flush(timeout=max(0.0, deadline - time.monotonic()))
        self._progress.stop_spooling()
        self._spooler.wake()
        self._spooler_thread.join(timeout=max(1.0, deadline - time.monotonic()))
        self._progress.stop_uploading(drained)
        self._uploader_thread.join(timeout=max(1.0, deadline - time.monotonic()))
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
        return self._progress.stats(*self._inbox.counts())

    def __enter__(self) -> LakeWriter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _close_at_exit(self) -> None:
        if not self.close():
            log.error("lake writer %s: exit before the lake took everything; spool kept", self.gateway_id)
