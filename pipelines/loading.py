"""Load changed lake days into ``raw.events``: read each object alone, quarantine the bad ones,
deduplicate on ``event_id`` and replace the day (delete + insert), so a rerun gives the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from analytics.sql_files import load_sql
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.lake_events import (
    LOADED_SCHEMA,
    LakeObject,
    UnreadableObject,
    by_day,
    changed_days,
    copy_to_quarantine,
    quarantine,
    read_event_object,
)

READ_THREADS = 4


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
    log: Callable[[str], None] = lambda message: None,
) -> LoadReport:
    """Reload ``days`` whose lake objects changed since they were loaded (every one of them if ``force``)."""
    report = LoadReport()
    for obj in objects:
        if obj.dt is None:
            _quarantine(
                lake,
                connection,
                obj.path,
                "not in the events layout events/v1/dt=YYYY-MM-DD/hour=HH/*.parquet",
                report,
                log,
            )
    wanted = sorted(set(days))
    changed = changed_days(objects, loaded_manifest(connection))
    objects_by_day = by_day(objects)
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for day in wanted:
            if not force and day not in changed:
                report.days_unchanged.append(day)
                continue
            day_objects = objects_by_day.get(day, [])
            results = list(pool.map(lambda obj: _read(lake, obj), day_objects))
            tables, files = [], []
            for obj, result in zip(day_objects, results, strict=True):
                if isinstance(result, UnreadableObject):
                    _quarantine(lake, connection, obj.path, str(result), report, log)
                    continue
                tables.append(result)
                files.append(
                    {
                        "dt": day,
                        "path": obj.path,
                        "size": obj.size,
                        "mtime_ns": obj.mtime_ns,
                        "rows": result.num_rows,
                    }
                )
            report.rows_read += sum(t.num_rows for t in tables)
            report.rows_loaded += _replace_day(connection, day, tables, files)
            report.days_loaded.append(day)
            log(f"raw.events {day}: {len(tables)} object(s) loaded")
    return report


def _read(lake: LakeLocation, obj: LakeObject) -> pa.Table | UnreadableObject:
    try:
        return read_event_object(lake, obj)
    except UnreadableObject as exc:
        return exc


_MANIFEST_SCHEMA = pa.schema(
    [
        ("dt", pa.date32()),
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("rows", pa.int64()),
    ]
)


def _replace_day(
    connection: duckdb.DuckDBPyConnection,
    day: dt.date,
    tables: list[pa.Table],
    files: list[dict[str, object]],
) -> int:
    batch = pa.concat_tables(tables) if tables else LOADED_SCHEMA.empty_table()
    manifest = pa.Table.from_pylist(files, schema=_MANIFEST_SCHEMA)
    connection.register("batch", batch)
    connection.register("manifest", manifest)
    try:
        connection.execute("BEGIN TRANSACTION")
        connection.execute(load_sql("raw_events_delete_day"), {"dt": day})
        connection.execute(load_sql("raw_events_insert_day"), {"dt": day})
        connection.execute(load_sql("lake_files_replace_day"), {"dt": day})
        connection.execute(load_sql("lake_files_insert"))
        loaded = connection.execute(load_sql("raw_events_count_day"), {"dt": day}).fetchone()
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("batch")
        connection.unregister("manifest")
    return int(loaded[0]) if loaded else 0


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
    log: Callable[[str], None],
) -> None:
    target = quarantine(lake, path, reason)
    _remember(connection, path, target, reason)
    report.quarantined[path] = reason
    log(f"quarantined {path} -> {target}: {reason}")
