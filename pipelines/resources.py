"""Resources: where the lake and the warehouse are. Assets never open connections themselves.

Readers-never-blocked design: the pipeline writes only to a private build file beside the warehouse
(``.<name>.build``), under an exclusive file lock so runs take turns. A run opens the build file once
(on its first use) and keeps the lock and the connection until it ends: each open and close costs a
checkpoint and a schema check, so 13 steps sharing one connection save a second of an hourly run. The
``warehouse`` asset, last in every run, closes the connection (a checkpoint: the file is complete),
copies the file to a temp file in the same folder and ``os.replace``s it over the published path.
Readers open the published path ``read_only=True``: they get the old or the new complete file (an
open connection keeps its old inode), and no writer ever holds its lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from analytics.sql_files import load_sql
from analytics.warehouse import warehouse_path
from gateway_shim.config import Config, load_config
from gateway_shim.telemetry.storage import LakeLocation, default_lake_url

_SCHEMA_READY: set[tuple[str, int]] = set()


def _ensure_schema(connection: duckdb.DuckDBPyConnection, build_file: Path) -> None:
    """Create the schemas and tables once per build file (by inode) and process, not on every step."""
    key = (str(build_file), build_file.stat().st_ino)
    if key not in _SCHEMA_READY or not connection.execute(load_sql("schema_present")).fetchall()[0][0]:
        connection.execute(load_sql("schema"))
        _SCHEMA_READY.add(key)


class LakeResource(dg.ConfigurableResource):
    """The telemetry lake: a folder or s3://bucket/prefix ("" = $AIGW_LAKE or ./.aigw/lake)."""

    url: str = ""

    def location(self) -> LakeLocation:
        return LakeLocation.parse(self.url or default_lake_url(), create=False)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse ("" = $AIGW_WAREHOUSE or ./.aigw/warehouse.duckdb) and the policy config."""

    path: str = ""
    config_path: str = ""

    @property
    def published(self) -> Path:
        return warehouse_path(self.path or None).absolute()

    @property
    def build_file(self) -> Path:
        return self.published.with_name(f".{self.published.name}.build")

    def policy_config(self) -> Config:
        return load_config(self.config_path or None)

    # During a run: the lock and the connection, taken on first use and kept to the run's end.
    _run: ExitStack | None = PrivateAttr(default=None)
    _lock_taken: bool = PrivateAttr(default=False)
    _connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run = ExitStack()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        run, self._run = self._run, None
        self._lock_taken, self._connection = False, None
        if run is not None:
            run.close()  # the connection (if still open), then the lock

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the build file (runs take turns); free while this run holds it."""
        if self._lock_taken:
            yield
            return
        self.published.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.published.with_name(f".{self.published.name}.lock")
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the private build file, schemas in place, time zone UTC; inside
        a run, the run's one connection (opened on first use, closed by ``publish`` or the run's end)."""
        if self._run is None:
            with self.locked(), self._opened() as connection:
                yield connection
            return
        if not self._lock_taken:
            self._run.enter_context(self.locked())
            self._lock_taken = True
        if self._connection is None:
            self._connection = self._run.enter_context(self._opened())
        yield self._connection

    @contextmanager
    def _opened(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.build_file.exists() and self.published.is_file():
            shutil.copyfile(self.published, self.build_file)
        connection = duckdb.connect(str(self.build_file))
        try:
            connection.execute("SET TimeZone = 'UTC'")
            # bulk loads insert in parallel; tables carry no meaning in row order (queries ORDER BY)
            connection.execute("SET preserve_insertion_order = false")
            _ensure_schema(connection, self.build_file)
            yield connection
        finally:
            connection.close()

    def publish(self) -> Path:
        """Swap a finished copy of the build file over the published path (atomic on one filesystem)."""
        with self.locked():
            if self._connection is not None:  # closing it checkpoints: the file is complete
                self._connection.close()
                self._connection = None
            if not self.build_file.exists():
                raise FileNotFoundError(f"nothing to publish: no build file {self.build_file}")
            temp = self.published.with_name(f".{self.published.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(self.build_file, temp)
                with open(temp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(temp, self.published)
            finally:
                temp.unlink(missing_ok=True)
        return self.published
