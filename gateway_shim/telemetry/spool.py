"""The lake writer's local spool: append-only Arrow IPC segments that survive kill -9.

Events are appended to the open segment as record batches and flushed to disk (fsync) at every
spooler cycle (a group commit, see ``spooler.py``); a segment is sealed when it is big or old
enough and stays on disk until its events are in the lake. On the next start every segment found
is replayed. A segment cut short by a crash is read up to its last complete batch: the lost tail
was never acknowledged, because the writer only counts events as durable after the flush that
covers them.

Small side objects for the lake (gap records, quarantined events) wait in ``outbox/`` under the
lake path they will get.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa

from gateway_shim.telemetry.schema import EVENT_SCHEMA, upgrade

log = logging.getLogger("aigw.lake")

SEGMENT_SUFFIX = ".arrows"
KEEP_IN_MEMORY_BYTES = 4 * 2**20
"""A segment keeps its rows in memory for the uploader only up to this many Arrow bytes; a bigger one
is read back from disk at upload. Group commits append many small batches, whose per-batch overhead
would otherwise make memory grow by ~2 KB per event until the segment is sealed."""
_IPC_OPTIONS = pa.ipc.IpcWriteOptions()
"""Uncompressed: a group commit appends a few rows, and LZ4 on each of a batch's ~150 buffers cost
0.8 ms of CPU per 4-row commit against 0.17 ms without (the spool is local and short-lived; the lake
gets zstd Parquet). Segments written compressed by earlier versions still read."""


class SpoolLocked(RuntimeError):
    """Another live writer holds this spool directory."""


@dataclass(frozen=True)
class Segment:
    """A sealed spool segment: events waiting to reach the lake, in order of ``seq``."""

    path: Path
    seq: int
    rows: int
    size: int
    table: pa.Table | None = field(default=None, compare=False, repr=False)
    """The rows still in memory when sealed by this process (saves reading the file back)."""

    @property
    def name(self) -> str:
        return self.path.stem


class OpenSegment:
    """The segment being appended to; ``sync()`` makes everything appended so far durable."""

    def __init__(self, path: Path, seq: int) -> None:
        self.path = path
        self.seq = seq
        self.opened_at = time.monotonic()
        self.rows = 0
        self.synced_rows = 0
        self._pieces: list[pa.Table] = []
        self._kept_bytes = 0
        """Arrow bytes in ``_pieces``; -1 once over ``KEEP_IN_MEMORY_BYTES`` (nothing kept)."""
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by seal()
        try:
            self._sink = pa.PythonFile(self._file, mode="w")
            self._ipc = pa.ipc.new_stream(self._sink, EVENT_SCHEMA, options=_IPC_OPTIONS)
        except BaseException:  # a full disk: leave no empty segment behind
            self._file.close()
            path.unlink(missing_ok=True)
            raise

    @property
    def size(self) -> int:
        return int(self._file.tell())

    def append(self, rows: pa.RecordBatch | pa.Table) -> None:
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows])
        table = table.combine_chunks()  # one IPC batch per append: fewer, larger buffers to compress
        self._ipc.write_table(table)
        self.rows += table.num_rows
        if self._kept_bytes >= 0:
            self._kept_bytes += table.nbytes
            if self._kept_bytes > KEEP_IN_MEMORY_BYTES:
                self._pieces, self._kept_bytes = [], -1  # from now on the uploader reads the file
            else:
                self._pieces.append(table)

    def sync(self, fsync: bool = True) -> int:
        """Push appended batches to the OS (and the disk); returns how many rows became durable."""
        self._file.flush()
        if fsync:
            os.fsync(self._file.fileno())
        newly = self.rows - self.synced_rows
        self.synced_rows = self.rows
        return newly

    def close(self) -> None:
        """Let go of the file without sealing it (after a disk error; what was synced stays readable)."""
        self._pieces = []
        try:
            self._file.close()
        except OSError:
            log.warning("spool segment %s: closing after an error failed too", self.path)

    def seal(self, fsync: bool = True, keep_table: bool = False) -> Segment:
        """Close the segment for good; ``keep_table`` hands its rows on in memory too."""
        self._ipc.close()
        self.sync(fsync)
        self._file.close()
        table = pa.concat_tables(self._pieces) if keep_table and self._pieces else None
        self._pieces = []
        return Segment(self.path, self.seq, self.rows, self.path.stat().st_size, table)


class Spool:
    """A spool directory owned by one writer process at a time (an exclusive ``flock``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.segments_dir = directory / "segments"
        self.outbox_dir = directory / "outbox"
        self._lock_file: IO[bytes] | None = None
        self._next_seq = 0
        self._outbox_lock = threading.Lock()

    def open(self) -> list[Segment]:
        """Take the spool and return the segments left by earlier runs, oldest first."""
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        lock_file = open(self.directory / "LOCK", "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise SpoolLocked(f"spool {self.directory} is in use by another lake writer") from None
        self._lock_file = lock_file
        leftovers = []
        for path in sorted(self.segments_dir.glob(f"*{SEGMENT_SUFFIX}")):
            seq = int(path.stem.split("-", 1)[0])
            self._next_seq = max(self._next_seq, seq + 1)
            leftovers.append(Segment(path, seq, count_rows(path), path.stat().st_size))
        for temp in self.outbox_dir.rglob(".*.tmp"):
            temp.unlink(missing_ok=True)
        return leftovers

    def close(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def new_segment(self) -> OpenSegment:
        seq = self._next_seq
        self._next_seq += 1
        return OpenSegment(self.segments_dir / f"{seq:012d}-{uuid.uuid4().hex}{SEGMENT_SUFFIX}", seq)

    def put_outbox(self, lake_relative_path: str, data: bytes) -> None:
        """Keep a small object for the lake on disk until it is uploaded (overwrites the same path)."""
        target = self.outbox_dir / lake_relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            with self._outbox_lock:
                os.replace(temp, target)
        except BaseException:  # a full disk: no temp file may outlive the attempt
            temp.unlink(missing_ok=True)
            raise

    def upload_outbox_file(self, relative: str, path: Path, write: Callable[[str, bytes], None]) -> None:
        """``write`` one outbox file to the lake, then delete it unless it was replaced meanwhile."""
        before = path.stat()
        write(relative, path.read_bytes())
        with self._outbox_lock:
            if path.stat().st_ino == before.st_ino:
                path.unlink()

    def outbox(self) -> list[tuple[str, Path]]:
        """Pending side objects as (lake relative path, local file)."""
        return sorted(
            (path.relative_to(self.outbox_dir).as_posix(), path)
            for path in self.outbox_dir.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )


def read_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """The complete batches of a segment; a torn tail (a crash mid-write) ends the iteration."""
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError):
        return  # crashed before the stream header reached the disk: nothing was acknowledged
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("spool segment %s ends in a torn batch (%s); keeping what precedes it", path, exc)
            return
        yield batch


def read_segment(path: Path) -> pa.Table:
    """A segment's rows as ``EVENT_SCHEMA`` (one written by an older version gets the new columns null)."""
    batches = list(read_batches(path))
    if not batches:
        return EVENT_SCHEMA.empty_table()
    return upgrade(pa.Table.from_batches(batches))


def count_rows(path: Path) -> int:
    return sum(batch.num_rows for batch in read_batches(path))
