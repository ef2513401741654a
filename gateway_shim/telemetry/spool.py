"""The lake writer's local spool: segments on disk that survive kill -9.

A segment is written in two forms. A spooler cycle (a group commit, see ``spooler.py``) with few new
events appends them as JSON lines to the segment's *journal* (``.jsonl``) and fsyncs it: a commit
costs one ``orjson.dumps`` per event and one write, whatever its size. Every ``CONVERT_ROWS`` journal
events, and for what is left when the segment is sealed, the events are converted to Arrow record
batches and appended to the segment's Arrow IPC stream (``.arrows.part``), so the column conversion
runs on batches of a thousand events instead of on each commit's few (it cost ~0.2 ms per commit).
A cycle with ``CONVERT_ROWS`` events or more (a burst, a backlog) goes straight to the Arrow file,
which that cycle fsyncs: the journal would only add an encoding of each event. Sealing fsyncs the
Arrow file, renames it to ``.arrows`` and deletes the journal; sealed segments stay on disk until
their events are in the lake.

On the next start every segment found is replayed. A segment that was still open (a crash) is its
Arrow file's complete batches plus the journal's lines, up to the last complete one, whose
``event_id`` the Arrow file does not hold already. What a crash tears was never acknowledged,
because the writer only counts events as durable after the fsync that covers them.

Small side objects for the lake (gap records, quarantined events) wait in ``outbox/`` under the
lake path they will get.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
import pyarrow as pa

from gateway_shim.telemetry.columnar import Event, to_table
from gateway_shim.telemetry.schema import EVENT_SCHEMA, upgrade

log = logging.getLogger("aigw.lake")

SEGMENT_SUFFIX = ".arrows"
JOURNAL_SUFFIX = ".jsonl"
_PART_SUFFIX = ".arrows.part"
JOURNAL_CHUNK_BYTES = 4 * 2**20
"""Journal space is allocated ahead in chunks of this size, so a commit's append does not grow the
file: its sync then writes only the data (fdatasync), not the file's size too. On ext4 that took a
commit's sync from ~110 to ~65 µs of CPU and from 1-2 ms to ~0.2 ms of wall time here."""
_datasync = getattr(os, "fdatasync", os.fsync)
_RWF_DSYNC: int | None = getattr(os, "RWF_DSYNC", None)
"""Linux: one ``pwritev`` both writes a commit's lines and syncs them. The spooler thread then hands
the GIL to the event loop once per commit for the disk, not twice (a write, then an fdatasync)."""
CONVERT_ROWS = 1024
"""Journal events are converted to Arrow in batches of this many (see ``columnar.to_table``)."""
KEEP_IN_MEMORY_BYTES = 4 * 2**20
"""A segment keeps its rows in memory for the uploader only up to this many Arrow bytes; a bigger one
is read back from disk at upload."""
_IPC_OPTIONS = pa.ipc.IpcWriteOptions()
"""Uncompressed: the spool is local and short-lived; the lake gets zstd Parquet. Segments written
compressed by earlier versions still read."""


class SpoolLocked(RuntimeError):
    """Another live writer holds this spool directory."""


@dataclass(frozen=True)
class Segment:
    """A segment waiting to reach the lake, in order of ``seq``: sealed (``.arrows``), or a journal
    left open by a crashed writer (``.jsonl``)."""

    path: Path
    seq: int
    rows: int
    size: int
    table: pa.Table | None = field(default=None, compare=False, repr=False)
    """The rows still in memory when sealed by this process (saves reading the file back)."""

    @property
    def name(self) -> str:
        return self.path.name.split(".", 1)[0]


class OpenSegment:
    """The segment being appended to; ``sync()`` makes everything appended so far durable."""

    def __init__(self, path: Path, seq: int) -> None:
        self.path = path
        self.seq = seq
        self.opened_at = time.monotonic()
        self.rows = 0
        self.synced_rows = 0
        self._journal_bytes = 0
        self._synced_bytes = 0
        self._allocated = 0
        self._arrow_rows = 0
        self._unconverted: list[Event] = []
        self._pieces: list[pa.Table] = []
        self._kept_bytes = 0
        """Arrow bytes in ``_pieces``; -1 once over ``KEEP_IN_MEMORY_BYTES`` (nothing kept)."""
        self._arrows_path = _part_of(path)
        self._journal = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        """Written at ``sync()`` only, so what is on disk past the synced bytes is never a commit's."""
        self._pending: list[bytes] = []
        """Journal lines appended since the last ``sync()``."""
        self._arrows: IO[bytes] | None = None
        """The Arrow file, opened at the first Arrow batch (no empty file per segment)."""
        self._arrow_synced_size = 0
        self._arrow_bytes = 0
        """The Arrow file's size, kept here: asking the file (``tell``, an lseek) on every commit made the
        spooler thread hand the GIL to the event loop and wait to get it back once more per commit."""
        self._ipc: pa.ipc.RecordBatchStreamWriter | None = None
        self._arrow_dirty = False
        """Batches appended straight to the Arrow file since the last sync (they have no journal line)."""

    @property
    def size(self) -> int:
        """Bytes on disk: the journal plus the Arrow conversion so far."""
        return self._journal_bytes + self._arrow_bytes

    @property
    def unconverted(self) -> int:
        return len(self._unconverted)

    def append(self, events: Sequence[Event], lines: bytes) -> None:
        """``events`` and their journal ``lines`` (``encode_journal``); durable after ``sync()``."""
        if self._journal_bytes + len(lines) > self._allocated:
            self._allocate(len(lines))
        self._pending.append(lines)
        self._journal_bytes += len(lines)
        self._unconverted.extend(events)
        self.rows += len(events)

    def _allocate(self, needed: int) -> None:
        """Reserve the next chunk of journal space; without it (a full disk, a file system that cannot)
        appends simply grow the file."""
        chunk = max(JOURNAL_CHUNK_BYTES, needed)
        try:
            os.posix_fallocate(self._journal, self._allocated, chunk)
        except OSError:
            self._allocated = self._journal_bytes + needed
        else:
            self._allocated += chunk

    def sync(self, fsync: bool = True) -> int:
        """Push appended lines and batches to the OS (and the disk); returns how many rows became durable."""
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            _write_at(self._journal, data, self._synced_bytes, fsync)
        if self._arrow_dirty and self._arrows is not None:
            self._arrows.flush()
            if fsync:
                _datasync(self._arrows.fileno())
            self._arrow_dirty = False
            self._arrow_synced_size = self._arrow_bytes
        newly = self.rows - self.synced_rows
        self.synced_rows = self.rows
        self._synced_bytes = self._journal_bytes
        return newly

    def convert(self, gateway_id: str) -> list[tuple[Event, str]]:
        """The journal's unconverted events into the Arrow file; the ones that do not fit the schema.

        The journal keeps them (it is what is synced for them); after a crash the replay skips journal
        lines whose ``event_id`` the Arrow file already holds."""
        if not self._unconverted:
            return []
        table, bad = to_table(self._unconverted, gateway_id)
        self._unconverted = []
        if table.num_rows:
            self._write_arrow(table)
        return bad

    def append_table(self, table: pa.Table) -> None:
        """A big batch, converted already, straight into the Arrow file (no journal line); durable after
        ``sync()``. One commit of a thousand events pays the conversion's fixed cost once, so the journal
        would only add an encoding of every event."""
        self._write_arrow(table.combine_chunks())
        self.rows += table.num_rows
        self._arrow_dirty = True

    def _write_arrow(self, table: pa.Table) -> None:
        if self._arrows is None:
            self._arrows = open(self._arrows_path, "wb")  # noqa: SIM115 - closed by seal() or close()
        if self._ipc is None:
            self._ipc = pa.ipc.new_stream(pa.PythonFile(self._arrows, mode="w"), EVENT_SCHEMA,
                                          options=_IPC_OPTIONS)
        self._ipc.write_table(table)
        self._arrow_bytes = self._arrows.tell()
        self._arrow_rows += table.num_rows
        if self._kept_bytes >= 0:
            self._kept_bytes += table.nbytes
            if self._kept_bytes > KEEP_IN_MEMORY_BYTES:
                self._pieces, self._kept_bytes = [], -1  # from now on the uploader reads the file
            else:
                self._pieces.append(table)

    def close(self) -> None:
        """Let go of the files without sealing (after a disk error). The journal keeps what was synced
        and no more (the rest was reported lost, so it must not reach the lake); the Arrow file stays
        beside it, cut where its last batch without journal lines was synced (it may hold such batches;
        what follows them is in the journal)."""
        self._pieces, self._unconverted, self._pending = [], [], []
        for handle in (self._journal, self._arrows):
            try:
                if isinstance(handle, int):
                    os.close(handle)
                elif handle is not None:
                    handle.close()
            except OSError:
                log.warning("spool segment %s: closing after an error failed too", self.path)
        with contextlib.suppress(OSError):
            os.truncate(self.path, self._synced_bytes)
        if self._arrows is not None:
            with contextlib.suppress(OSError):
                os.truncate(self._arrows_path, self._arrow_synced_size)

    def seal(self, gateway_id: str, fsync: bool = True,
             keep_table: bool = False) -> tuple[Segment | None, list[tuple[Event, str]]]:
        """Finish the Arrow file and drop the journal; the sealed segment (None if no event fitted the
        schema) and the events that did not. ``keep_table`` hands its rows on in memory too."""
        bad = self.convert(gateway_id)
        if self._ipc is not None:
            self._ipc.close()
        if self._arrows is not None:
            self._arrows.flush()
            if fsync:
                os.fsync(self._arrows.fileno())
            self._arrows.close()
        os.close(self._journal)
        rows = self._arrow_rows
        sealed_path = self._arrows_path.with_name(self._arrows_path.name.removesuffix(".part"))
        segment = None
        if rows:
            os.replace(self._arrows_path, sealed_path)
            table = pa.concat_tables(self._pieces) if keep_table and self._pieces else None
            segment = Segment(sealed_path, self.seq, rows, sealed_path.stat().st_size, table)
        else:
            self._arrows_path.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        self._pieces = []
        return segment, bad


def _write_at(fd: int, data: bytes, offset: int, sync: bool) -> None:
    """``data`` at ``offset``, on the disk when it returns if ``sync``: one system call where it can."""
    view = memoryview(data)
    while view:
        if sync and _RWF_DSYNC is not None:
            written = os.pwritev(fd, [view], offset, _RWF_DSYNC)
        else:
            written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    if sync and _RWF_DSYNC is None:
        _datasync(fd)


def encode_journal(events: Sequence[Event]) -> tuple[list[Event], list[bytes], list[tuple[Event, str]]]:
    """The events as journal lines (one JSON object each), and the ones JSON cannot hold."""
    good: list[Event] = []
    lines: list[bytes] = []
    bad: list[tuple[Event, str]] = []
    for event in events:
        try:
            lines.append(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        except orjson.JSONEncodeError as exc:
            bad.append((event, f"JSONEncodeError: {exc}"))
        else:
            good.append(event)
    return good, lines, bad


def quarantine_lines(bad: Sequence[tuple[Event, str]]) -> bytes:
    """Events that do not fit the schema, as the JSON lines ``quarantine/writer/`` keeps (with the reason)."""
    return b"".join(
        orjson.dumps({"reason": reason, "event": event}, default=str) + b"\n" for event, reason in bad
    )


def read_journal(path: Path) -> Iterator[Event]:
    """The events of a journal up to its last complete line (a crash can tear only the tail; the
    journal's allocated but unwritten space reads as zeros, which end it the same way)."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                if line.strip(b"\0"):
                    log.warning("spool journal %s ends in a torn line; keeping the %d before it",
                                path, number - 1)
                return
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.warning("spool journal %s: line %d is not JSON (a torn write); keeping what precedes it",
                            path, number)
                return
            yield event


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
        for path in segment_files(self.segments_dir):
            seq = int(path.name.split("-", 1)[0])
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
        return OpenSegment(self.segments_dir / f"{seq:012d}-{uuid.uuid4().hex}{JOURNAL_SUFFIX}", seq)

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


def segment_files(segments_dir: Path) -> list[Path]:
    """The segments in a spool's ``segments/`` folder, oldest first, tidied after a crash: a journal
    whose Arrow file was already sealed is deleted, and so is an Arrow file left without its journal.
    An open segment's journal stands for both its files (``load_segment``)."""
    sealed = {path.name.split(".", 1)[0] for path in segments_dir.glob(f"*{SEGMENT_SUFFIX}")}
    journals = set()
    for journal in segments_dir.glob(f"*{JOURNAL_SUFFIX}"):
        stem = journal.name.split(".", 1)[0]
        if stem in sealed:
            journal.unlink(missing_ok=True)
        else:
            journals.add(stem)
    for part in segments_dir.glob(f"*{_PART_SUFFIX}"):
        if part.name.split(".", 1)[0] not in journals:
            part.unlink(missing_ok=True)
    paths = [*segments_dir.glob(f"*{SEGMENT_SUFFIX}"), *segments_dir.glob(f"*{JOURNAL_SUFFIX}")]
    return sorted(paths, key=lambda path: path.name)


def _part_of(journal: Path) -> Path:
    return journal.with_name(journal.name.removesuffix(JOURNAL_SUFFIX) + _PART_SUFFIX)


def _arrow_table(path: Path) -> pa.Table:
    batches = list(read_batches(path))
    if not batches:
        return EVENT_SCHEMA.empty_table()
    return upgrade(pa.Table.from_batches(batches))


def load_segment(path: Path, gateway_id: str) -> tuple[pa.Table, list[tuple[Event, str]]]:
    """A segment's rows as ``EVENT_SCHEMA`` (one written by an older version gets the new columns
    null), and the events of a journal that do not fit the schema. An open segment left by a crash is
    its Arrow file's complete batches plus the journal's lines whose ``event_id`` they do not hold."""
    if not path.name.endswith(JOURNAL_SUFFIX):
        return _arrow_table(path), []
    part = _part_of(path)
    converted = _arrow_table(part) if part.exists() else EVENT_SCHEMA.empty_table()
    events = list(read_journal(path))
    if converted.num_rows:
        held = set(converted.column("event_id").to_pylist())
        events = [event for event in events if event.get("event_id") not in held]
    table, bad = to_table(events, gateway_id)
    return pa.concat_tables([converted, table]), bad


def read_segment(path: Path) -> pa.Table:
    """A segment's rows that fit the schema (readers that are not the writer: budget seeding, tests)."""
    return load_segment(path, "spooled")[0]


def delete_segment(path: Path) -> None:
    """A segment's files (an open segment's journal and its Arrow file)."""
    path.unlink(missing_ok=True)
    if path.name.endswith(JOURNAL_SUFFIX):
        _part_of(path).unlink(missing_ok=True)


def count_rows(path: Path) -> int:
    if path.name.endswith(JOURNAL_SUFFIX):
        table, bad = load_segment(path, "spooled")
        return table.num_rows + len(bad)
    return sum(batch.num_rows for batch in read_batches(path))
