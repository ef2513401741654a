"""Load changed lake days into ``raw.events``, deduplicated on ``event_id``; bad objects go to quarantine.

Every object's footer is checked first (not Parquet, foreign columns → quarantine). The good ones
of a group of days are then scanned together through a pyarrow dataset into a staging table — fast,
multi-threaded, the same code for a folder and S3. If that scan fails (a corrupt page behind a
valid footer), the group is read again object by object so the bad one is found and quarantined.
Objects whose rows break the schema (null ids, another schema_version) are quarantined too. The
days are then replaced in one transaction (delete + insert), so a rerun gives the same rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from analytics.sql_files import load_sql
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_events import (
    LakeObject,
    UnreadableObject,
    by_day,
    changed_days,
    check_footer,
    copy_to_quarantine,
    quarantine,
    read_event_object,
)

READ_THREADS = 8
GROUP_ROWS = 4_000_000  # days are loaded in groups of about this many rows (memory bound)


@dataclass
class LoadReport:
    days_loaded: list[dt.date] = field(default_factory=list)
    days_unchanged: list[dt.date] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    quarantined: dict[str, str] = field(default_factory=dict)  # path -> reason

    @property
    def duplicates_dropped(self) -> int:
        return self.rows_read - self.rows_loaded


Log = Callable[[str], None]


def loaded_manifest(connection: duckdb.DuckDBPyConnection) -> list[tuple[dt.date, str, int, int]]:
    rows = connection.execute(load_sql("lake_files_all")).fetchall()
    return [(day, path, size, mtime_ns) for day, path, size, mtime_ns in rows]


def load_days(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    days: Iterable[dt.date],
    objects: list[LakeObject],
    *,
    force: bool = False,
    log: Log = lambda message: None,
) -> LoadReport:
    """Reload ``days`` whose lake objects changed since they were loaded (every one of them if ``force``)."""
    report = LoadReport()
    for obj in objects:
        if obj.dt is None:
            reason = "not in the events layout events/v1/dt=YYYY-MM-DD/hour=HH/*.parquet"
            _quarantine(lake, connection, obj.path, reason, report, log)
    changed = changed_days(objects, loaded_manifest(connection))
    to_load: list[dt.date] = []
    for day in sorted(set(days)):
        (to_load if force or day in changed else report.days_unchanged).append(day)
    objects_by_day = by_day(objects)
    candidates = [obj for day in to_load for obj in objects_by_day.get(day, [])]
    with ThreadPoolExecutor(READ_THREADS) as pool:
        footers = list(pool.map(lambda obj: _footer(lake, obj), candidates))
    rows_of: dict[str, int] = {}
    for obj, footer in zip(candidates, footers, strict=True):
        if isinstance(footer, UnreadableObject):
            _quarantine(lake, connection, obj.path, str(footer), report, log)
        else:
            rows_of[obj.path] = footer
    for group in _groups(to_load, objects_by_day, rows_of):
        good = [obj for day in group for obj in objects_by_day.get(day, []) if obj.path in rows_of]
        _load_group(lake, connection, group, good, report, log)
    return report


def _footer(lake: LakeLocation, obj: LakeObject) -> int | UnreadableObject:
    try:
        return check_footer(lake, obj)
    except UnreadableObject as exc:
        return exc


def _groups(
    days: list[dt.date], objects_by_day: dict[dt.date, list[LakeObject]], rows_of: dict[str, int]
) -> list[list[dt.date]]:
    groups: list[list[dt.date]] = []
    rows = 0
    for day in days:
        day_rows = sum(rows_of.get(obj.path, 0) for obj in objects_by_day.get(day, []))
        if not groups or (groups[-1] and rows + day_rows > GROUP_ROWS):
            groups.append([])
            rows = 0
        groups[-1].append(day)
        rows += day_rows
    return groups


def _load_group(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    days: list[dt.date],
    objects: list[LakeObject],
    report: LoadReport,
    log: Log,
) -> None:
    try:
        _expose_together(lake, connection, objects)
        objects = _drop_bad_rows(lake, connection, objects, report, log)
        read, loaded = _replace_days(lake, connection, days, objects)
    except (pa.ArrowException, duckdb.Error, OSError) as exc:
        log(f"reading {len(objects)} object(s) together failed ({exc}); reading them one by one")
        objects = _keep_readable(lake, connection, objects, report, log)
        _forget_incoming(connection)
        _expose(connection, _one_by_one(lake, objects))
        objects = _drop_bad_rows(lake, connection, objects, report, log)
        read, loaded = _replace_days(lake, connection, days, objects)
    finally:
        _forget_incoming(connection)
    report.rows_read += read
    report.rows_loaded += loaded
    report.days_loaded += days
    log(f"raw.events {days[0]}..{days[-1]}: {len(objects)} object(s), {loaded} row(s)")


def _forget_incoming(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in ("DROP VIEW IF EXISTS incoming", "DROP TABLE IF EXISTS incoming"):
        with contextlib.suppress(duckdb.CatalogException):  # it is one or the other
            connection.execute(statement)


def _expose_together(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, objects: list[LakeObject]
) -> None:
    """``incoming``: every object's rows plus ``filename``. A local lake is scanned by DuckDB itself
    (parallel, only the columns each statement needs); S3 through one pyarrow dataset scan."""
    paths = [lake.path(o.path) for o in objects]
    if not paths:
        _expose(connection, _one_by_one(lake, []))
    elif lake.is_local:
        rows = connection.read_parquet(paths, filename=True, union_by_name=True, hive_partitioning=False)
        rows.create_view("incoming")
    else:
        dataset = ds.dataset(paths, schema=EVENT_SCHEMA, format="parquet", filesystem=lake.filesystem)
        reader = dataset.scanner(columns=[*EVENT_COLUMNS, "__filename"]).to_reader()
        schema = EVENT_SCHEMA.append(pa.field("filename", pa.string()))
        _expose(
            connection,
            pa.RecordBatchReader.from_batches(
                schema, (batch.rename_columns(schema.names) for batch in reader)
            ),
        )


def _expose(connection: duckdb.DuckDBPyConnection, rows: pa.RecordBatchReader | pa.Table) -> None:
    """Materialise ``rows`` as the temp table ``incoming`` (statements read it more than once)."""
    connection.register("arriving", rows)
    try:
        connection.execute(load_sql("raw_events_incoming"))
    finally:
        connection.unregister("arriving")


def _drop_bad_rows(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    objects: list[LakeObject],
    report: LoadReport,
    log: Log,
) -> list[LakeObject]:
    """Quarantine objects whose rows break schema v1 (null ids, another schema_version)."""
    bad = connection.execute(load_sql("raw_events_incoming_bad_objects"), _prefix(lake)).fetchall()
    for path, reason in bad:
        _quarantine(lake, connection, path, reason, report, log)
    dropped = {path for path, _ in bad}
    return [obj for obj in objects if obj.path not in dropped]


def _replace_days(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, days: list[dt.date], objects: list[LakeObject]
) -> tuple[int, int]:
    """Delete the days and insert the objects' rows once per event_id, in one transaction."""
    manifest = pa.Table.from_pylist(
        [{"dt": o.dt, "path": o.path, "size": o.size, "mtime_ns": o.mtime_ns} for o in objects],
        schema=pa.schema(
            [("dt", pa.date32()), ("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64())]
        ),
    )
    connection.register("manifest", manifest)
    try:
        connection.execute("BEGIN TRANSACTION")
        connection.execute(load_sql("raw_events_delete_days"), {"days": days})
        connection.execute(load_sql("raw_events_insert_incoming"), _prefix(lake))
        connection.execute(load_sql("lake_files_delete_days"), {"days": days})
        connection.execute(load_sql("lake_files_insert"), _prefix(lake))
        read, loaded = connection.execute(load_sql("raw_events_count_days"), {"days": days}).fetchall()[0]
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("manifest")
    return int(read), int(loaded)


def _prefix(lake: LakeLocation) -> dict[str, int]:
    """``substr(filename, $prefix_len + 1)`` turns a full path into one relative to the lake root."""
    return {"prefix_len": len(lake.path("")) + 1}


def _keep_readable(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    objects: list[LakeObject],
    report: LoadReport,
    log: Log,
) -> list[LakeObject]:
    readable = []
    for obj in objects:
        try:
            read_event_object(lake, obj)
        except UnreadableObject as exc:
            _quarantine(lake, connection, obj.path, str(exc), report, log)
        else:
            readable.append(obj)
    return readable


def _one_by_one(lake: LakeLocation, objects: list[LakeObject]) -> pa.Table:
    schema = EVENT_SCHEMA.append(pa.field("filename", pa.string()))
    tables = [
        table.append_column("filename", pa.array([lake.path(obj.path)] * table.num_rows, pa.string()))
        for obj in objects
        for table in [read_event_object(lake, obj)]
    ]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def record_quarantine(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, unreadable: dict[str, str]
) -> None:
    """Copy objects that cannot be used (but must stay where they are) to quarantine, with their reasons."""
    for path, reason in unreadable.items():
        target = copy_to_quarantine(lake, path, reason)
        _remember(connection, path, target, reason)


def _remember(connection: duckdb.DuckDBPyConnection, path: str, target: str, reason: str) -> None:
    connection.execute(load_sql("quarantine_forget"), {"path": path})
    connection.execute(load_sql("quarantine_insert"), {"path": path, "target": target, "reason": reason})


def _quarantine(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    path: str,
    reason: str,
    report: LoadReport,
    log: Log,
) -> None:
    target = quarantine(lake, path, reason)
    _remember(connection, path, target, reason)
    report.quarantined[path] = reason
    log(f"quarantined {path} -> {target}: {reason}")
