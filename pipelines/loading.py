"""Load changed lake days into ``raw.events``, deduplicated on ``event_id``; bad objects go to quarantine.

Every object's footer is checked first (not Parquet, foreign columns → quarantine). The good objects
of a group of days are then inserted together in one transaction — a local lake scanned by DuckDB
itself (parallel), S3 through one pyarrow dataset scan — after deleting those days, so a rerun gives
the same rows. Objects whose rows are of no readable schema version are found by a scan of
that column before the insert and quarantined; if the joint insert fails (a corrupt page behind a
valid footer, a null id), the group is read again object by object so the bad ones are found and
quarantined. Duplicated ids (a retried batch written twice) keep the row of the first object by
path; the later copies are left out of the insert (never inserted and deleted again).

A day whose loaded objects are all still there, unchanged, and which only gained objects (the hourly
case) gets just the new objects' rows appended: deleting and reinserting its 300 k rows cost a
second, mostly in the checkpoint that rewrites the row groups holding the deleted rows. The rows are
those a reload would give, since the new rows' ids are first checked against the day's loaded ids:
if one is there already, the day is reloaded whole so the first copy by path is kept, as always.
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
from gateway_shim.telemetry.layout import EVENTS_PREFIX
from gateway_shim.telemetry.quarantine import copy_to_quarantine
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA, READABLE_VERSIONS
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_events import (
    OUTSIDE_LAYOUT,
    Footer,
    LakeObject,
    UnreadableObject,
    by_day,
    changed_days,
    check_footer,
    layout_problem,
    quarantine,
    read_event_object,
)

READ_THREADS = 8
GROUP_ROWS = 4_000_000  # days are loaded in groups of about this many rows (bounds memory)
INCOMING_SCHEMA = EVENT_SCHEMA.append(pa.field("dt", pa.date32())).append(pa.field("filename", pa.string()))
_HIVE = ds.partitioning(pa.schema([("dt", pa.date32()), ("hour", pa.string())]), flavor="hive")

Log = Callable[[str], None]


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


@dataclass
class _Group:
    days: list[dt.date]
    objects: list[LakeObject]
    footers: dict[str, Footer]
    append: bool = False  # the objects are new ones of days already loaded: nothing is deleted

    @property
    def exact(self) -> bool:
        return all(self.footers[o.path].exact for o in self.objects)


class WrongLake(ValueError):
    """The lake is missing or holds no events while the warehouse holds loaded days: loading it would
    empty the warehouse, which a mistyped ``--lake`` must never do. The message names the path."""


def refuse_wrong_lake(
    lake: LakeLocation,
    objects: list[LakeObject],
    manifest: list[tuple[dt.date, str, int, int]],
    *,
    allow_empty: bool = False,
) -> None:
    """``WrongLake`` when loading ``objects`` would drop every loaded day (and ``allow_empty`` is off)."""
    if allow_empty or not manifest or any(obj.dt is not None for obj in objects):
        return
    found = "has no event objects under events/v1/" if lake.root_exists() else "does not exist"
    days = len({day for day, *_ in manifest})
    raise WrongLake(
        f"the lake at {lake.url} {found}, but the warehouse holds {days} loaded day(s): loading it would "
        "empty the warehouse. Check --lake / $AIGW_LAKE; to start afresh on purpose, pass --allow-empty"
    )


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
    """Load ``days`` whose lake objects changed since they were loaded (every one of them, whole, if
    ``force``): a day that only gained objects gets their rows appended, any other is reloaded whole."""
    report = LoadReport()
    for obj in objects:
        if obj.dt is None:
            _quarantine(lake, connection, obj.path, layout_problem(obj.path) or OUTSIDE_LAYOUT, report, log)
    manifest = loaded_manifest(connection)
    changed = changed_days(objects, manifest)
    to_load: list[dt.date] = []
    for day in sorted(set(days)):
        (to_load if force or day in changed else report.days_unchanged).append(day)
    objects_by_day = by_day(objects)
    new_by_day = {} if force else _only_new_objects(to_load, objects_by_day, manifest)
    footers = _read_footers(lake, connection, [o for objs in new_by_day.values() for o in objs], report, log)
    reload = [day for day in to_load if day not in new_by_day]
    for days_of_group in _groups(sorted(new_by_day), new_by_day, footers):
        good = [obj for day in days_of_group for obj in new_by_day[day] if obj.path in footers]
        if not _load_group(lake, connection, _Group(days_of_group, good, footers, append=True), report, log):
            reload += days_of_group
    reload.sort()
    unread = [
        obj
        for day in reload
        for obj in objects_by_day.get(day, [])
        if obj.path not in footers and obj.path not in report.quarantined
    ]
    footers |= _read_footers(lake, connection, unread, report, log)
    for days_of_group in _groups(reload, objects_by_day, footers):
        good = [obj for day in days_of_group for obj in objects_by_day.get(day, []) if obj.path in footers]
        _load_group(lake, connection, _Group(days_of_group, good, footers), report, log)
    return report


def _only_new_objects(
    days: list[dt.date],
    objects_by_day: dict[dt.date, list[LakeObject]],
    manifest: list[tuple[dt.date, str, int, int]],
) -> dict[dt.date, list[LakeObject]]:
    """Of ``days``, those that kept every object they were loaded from and gained some: their new objects."""
    loaded: dict[dt.date, set[tuple[str, int, int]]] = {}
    for day, path, size, mtime_ns in manifest:
        loaded.setdefault(day, set()).add((path, size, mtime_ns))
    appendable = {}
    for day in days:
        before = loaded.get(day, set())
        now = {obj.signature for obj in objects_by_day.get(day, [])}
        if before and before < now:
            appendable[day] = [obj for obj in objects_by_day[day] if obj.signature not in before]
    return appendable


def _read_footers(
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    objects: list[LakeObject],
    report: LoadReport,
    log: Log,
) -> dict[str, Footer]:
    """The objects' footers, read in parallel; the unreadable ones are quarantined."""
    with ThreadPoolExecutor(READ_THREADS) as pool:
        results = list(pool.map(lambda obj: _footer(lake, obj), objects))
    footers: dict[str, Footer] = {}
    for obj, result in zip(objects, results, strict=True):
        if isinstance(result, UnreadableObject):
            _quarantine(lake, connection, obj.path, str(result), report, log)
        else:
            footers[obj.path] = result
    return footers


def _footer(lake: LakeLocation, obj: LakeObject) -> Footer | UnreadableObject:
    try:
        return check_footer(lake, obj)
    except UnreadableObject as exc:
        return exc


def _groups(
    days: list[dt.date], objects_by_day: dict[dt.date, list[LakeObject]], footers: dict[str, Footer]
) -> list[list[dt.date]]:
    groups: list[list[dt.date]] = []
    rows = 0
    for day in days:
        day_rows = sum(footers[o.path].rows for o in objects_by_day.get(day, []) if o.path in footers)
        if not groups or (groups[-1] and rows + day_rows > GROUP_ROWS):
            groups.append([])
            rows = 0
        groups[-1].append(day)
        rows += day_rows
    return groups


def _load_group(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, group: _Group, report: LoadReport, log: Log
) -> bool:
    """Load the group; False (nothing written) when appending would repeat an id the days hold."""
    try:
        _expose_together(lake, connection, group)
        _leave_out_foreign_objects(lake, connection, group, report, log)
        loaded = _write_days(lake, connection, group)
    except (pa.ArrowException, duckdb.Error, OSError) as exc:
        log(f"loading {len(group.objects)} object(s) together failed ({exc}); reading them one by one")
        _forget_incoming(connection)
        group.objects = _readable(lake, connection, group.objects, report, log)
        _expose(connection, _one_by_one(lake, group.objects))
        loaded = _write_days(lake, connection, group)
    finally:
        _forget_incoming(connection)
    if loaded is None:
        log(f"raw.events {group.days[0]}..{group.days[-1]}: new objects repeat loaded ids, reloading whole")
        return False
    report.rows_read += sum(group.footers[o.path].rows for o in group.objects)
    report.rows_loaded += loaded
    report.days_loaded += group.days
    done = "appended" if group.append else "loaded"
    log(f"raw.events {group.days[0]}..{group.days[-1]}: {len(group.objects)} object(s), {loaded} rows {done}")
    return True


def _prefix_len(lake: LakeLocation) -> dict[str, int]:
    """Binds ``$prefix_len``: how much of a scanned file name to cut to get its path in the lake."""
    return {"prefix_len": len(lake.path("")) + 1}


def _leave_out_foreign_objects(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, group: _Group, report: LoadReport, log: Log
) -> None:
    """Quarantine the objects whose rows are of no readable schema version or lie outside
    their dt/hour partition, and expose the rest again — before anything is inserted, so no inserted
    row has to be deleted."""
    parameters = {**_prefix_len(lake), "versions": list(READABLE_VERSIONS)}
    bad = connection.execute(load_sql("raw_events_bad_incoming"), parameters).fetchall()
    if not bad:
        return
    for path, reason in bad:
        _quarantine(lake, connection, path, reason, report, log)
    paths = {path for path, _ in bad}
    group.objects = [o for o in group.objects if o.path not in paths]
    _forget_incoming(connection)
    _expose_together(lake, connection, group)


def _write_days(lake: LakeLocation, connection: duckdb.DuckDBPyConnection, group: _Group) -> int | None:
    """In one transaction: delete the days (unless appending), insert ``incoming`` less the later
    copies of duplicated ids, record which objects the days came from. Returns the rows inserted, or
    None when appending would repeat an id already loaded for the days (nothing written)."""
    days = {
        "days": group.days,
        "first": min(group.days),
        "last": max(group.days),
    }  # BETWEEN prunes row groups
    connection.execute(load_sql("raw_events_duplicate_copies"))
    if group.append and connection.execute(load_sql("raw_events_repeats_loaded"), days).fetchall()[0][0]:
        return None
    connection.execute("BEGIN TRANSACTION")
    try:
        if not group.append:
            connection.execute(load_sql("raw_events_delete_days"), days)
            connection.execute(load_sql("lake_files_delete_days"), days)
        insert = connection.execute(load_sql("raw_events_insert_incoming"), _prefix_len(lake))
        (inserted,) = insert.fetchall()[0]
        connection.execute(load_sql("day_loads_record"), {"days": group.days})
        manifest = pa.Table.from_pylist(
            [
                {
                    "dt": o.dt,
                    "path": o.path,
                    "size": o.size,
                    "mtime_ns": o.mtime_ns,
                    "rows": group.footers[o.path].rows,
                }
                for o in group.objects
            ],
            schema=_MANIFEST_SCHEMA,
        )
        connection.register("manifest", manifest)
        connection.execute(load_sql("lake_files_insert"))
        connection.unregister("manifest")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return int(inserted)


_MANIFEST_SCHEMA = pa.schema(
    [
        ("dt", pa.date32()),
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("rows", pa.int64()),
    ]
)


def _forget_incoming(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("DROP TABLE IF EXISTS duplicate_copies")
    for statement in ("DROP VIEW IF EXISTS incoming", "DROP TABLE IF EXISTS incoming"):
        with contextlib.suppress(duckdb.CatalogException):  # it is one or the other
            connection.execute(statement)


def _expose_together(lake: LakeLocation, connection: duckdb.DuckDBPyConnection, group: _Group) -> None:
    """``incoming``: every object's rows plus ``dt``, ``filename`` and ``file_row_number``. A local
    lake is scanned by DuckDB itself (parallel, only the columns needed); S3 through one pyarrow
    dataset scan."""
    paths = [lake.path(o.path) for o in group.objects]
    if not paths:
        _expose(connection, INCOMING_SCHEMA.empty_table())
    elif lake.is_local:
        rows = connection.read_parquet(
            paths,
            filename=True,
            file_row_number=True,
            hive_partitioning=True,
            union_by_name=not group.exact,
        )
        _all_columns(rows).create_view("incoming")
    else:
        dataset = ds.dataset(
            paths,
            schema=EVENT_SCHEMA.append(pa.field("dt", pa.date32())),
            format="parquet",
            filesystem=lake.filesystem,
            partitioning=_HIVE,
            partition_base_dir=lake.path(EVENTS_PREFIX),
        )
        reader = dataset.scanner(columns=[*EVENT_COLUMNS, "dt", "__filename"]).to_reader()
        renamed = (batch.rename_columns(INCOMING_SCHEMA.names) for batch in reader)
        _expose(connection, pa.RecordBatchReader.from_batches(INCOMING_SCHEMA, renamed))


def _all_columns(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The scanned rows with the columns an older schema version lacks, as NULL (any other missing
    column is left to ``INSERT ... BY NAME``, which fills it with NULL too)."""
    present = set(rows.columns)
    missing = [f"NULL::{kind} AS {name}" for name, kind in _SQL_TYPES.items() if name not in present]
    return rows.select(", ".join(["* EXCLUDE (hour)", *missing]))


_SQL_TYPES = {
    "operation": "VARCHAR",
    "cache_read_tokens": "INTEGER",
    "cache_write_tokens": "INTEGER",
    "reasoning_tokens": "INTEGER",
    "tool_calls": "SMALLINT",
    "modalities": "VARCHAR[]",
    "state_degraded": "BOOLEAN",
    "input_images": "INTEGER",
}
"""DuckDB types of the columns a file of an older schema version may lack (schema v2's additions)."""


def _expose(connection: duckdb.DuckDBPyConnection, rows: pa.RecordBatchReader | pa.Table) -> None:
    """Materialise rows read by pyarrow as the temp table ``incoming``."""
    connection.register("arriving", rows)
    try:
        connection.execute(load_sql("raw_events_incoming"))
    finally:
        connection.unregister("arriving")


def _readable(
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
    tables = []
    for obj in objects:
        table = read_event_object(lake, obj)
        rows = table.num_rows
        table = table.append_column("dt", pa.array([obj.dt] * rows, pa.date32()))
        tables.append(table.append_column("filename", pa.array([lake.path(obj.path)] * rows, pa.string())))
    return pa.concat_tables(tables) if tables else INCOMING_SCHEMA.empty_table()


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
