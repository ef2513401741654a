"""The simulator's way into the lake: hourly Parquet files written from the engine's own thread.

``aigw serve`` hands its events to ``LakeWriter``, whose spool and background threads exist so that a
live gateway never blocks on the lake and loses nothing in a crash. A simulation needs neither: it
can wait for the lake, and a crashed run is simply run again from its seed. So the simulator does
the same steps as the writer's uploader with the writer's own functions (``to_table``,
``hour_files``, ``LakeLocation.write_bytes``), minus the
spool and the thread hand-offs, which cost it 1–6 µs of a 35–40 µs event (docs/performance.md,
"Simulate"). File names derive from the run's identity, so running a simulation again into the
same lake overwrites its files instead of adding copies.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gateway_shim.telemetry.backoff import backoff_delay
from gateway_shim.telemetry.columnar import to_table
from gateway_shim.telemetry.layout import hours_since_epoch
from gateway_shim.telemetry.parquet_encoding import hour_files
from gateway_shim.telemetry.storage import LakeLocation

CONVERT_EVERY = 512
"""Events converted to Arrow at once: few enough to be young and in the CPU caches, enough for
Arrow's per-batch cost not to count."""
WRITE_AT_ROWS = 100_000
"""Write files once this many events are held (at the next virtual hour): bounds memory at any scale."""
WRITE_ATTEMPTS = 6


class LakeSink:
    """Collects the engine's events and writes each virtual hour's events as Parquet files.

    Call ``emit`` per event, ``on_hour`` after each virtual hour, ``close`` at the end. An hour is
    written once it is complete, that is once a later hour has begun: requests still in flight
    across the hour's end then land in its file too, rather than in a small file of their own.
    """

    def __init__(self, lake: LakeLocation, gateway_id: str, run_key: str, *,
                 write_at_rows: int = WRITE_AT_ROWS, retry_base_s: float = 0.25) -> None:
        self.lake = lake
        self.gateway_id = gateway_id
        self.written = 0
        self.files_written = 0
        self._run_key = run_key
        self._write_at_rows = write_at_rows
        self._retry_base_s = retry_base_s
        self._events: list[dict[str, Any]] = []
        self._tables: list[pa.Table] = []
        self._rows = 0
        self._chunks = 0
        self._rng = random.Random()

    def emit(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        if len(self._events) >= CONVERT_EVERY:
            self._convert()

    def on_hour(self) -> None:
        self._convert()
        if self._rows >= self._write_at_rows:
            self._write(keep_latest_hour=True)

    def close(self) -> None:
        """Write everything still held."""
        self._convert()
        if self._rows:
            self._write(keep_latest_hour=False)

    def _convert(self) -> None:
        if not self._events:
            return
        table, bad = to_table(self._events, self.gateway_id)
        if bad:
            event, reason = bad[0]
            raise RuntimeError(f"the simulator built an event that does not fit the schema ({reason}): "
                               f"{event}")
        self._events = []
        self._tables.append(table)
        self._rows += table.num_rows

    def _write(self, *, keep_latest_hour: bool) -> None:
        table = pa.concat_tables(self._tables)
        held: pa.Table | None = None
        if keep_latest_hour:
            hours = hours_since_epoch(table)
            latest = pc.greater_equal(hours, pc.max(hours))
            held, table = table.filter(latest), table.filter(pc.invert(latest))
        self._chunks += 1
        chunk = f"{self._run_key}-{self._chunks:06d}"
        for path, data in hour_files(self.gateway_id, chunk, table):
            self._write_file(path, data)
            self.files_written += 1
        self.written += table.num_rows
        self._tables = [held] if held is not None and held.num_rows else []
        self._rows = held.num_rows if held is not None else 0

    def _write_file(self, path: str, data: pa.Buffer) -> None:
        """Write one object, retrying with backoff; after the last attempt the run fails and says why."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.lake.write_bytes(path, memoryview(data))
                return
            except OSError as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise RuntimeError(f"could not write {self.lake.url}/{path} after {attempt} attempts: "
                                       f"{type(exc).__name__}: {exc}") from exc
                time.sleep(backoff_delay(attempt, self._retry_base_s, 5.0, self._rng))
