"""Bedrock's model-invocation logs → ``raw.invocation_logs``, deduplicated on request id.

AWS delivers gzipped JSON lines, one ``ModelInvocationLog`` record a line, under
``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/``. Each run reads only the
objects it has not loaded (a changed object is read again, its old rows replaced). A local source
is scanned by DuckDB in one parallel pass; otherwise (S3, or an object the scan refuses) an object
is parsed whole by pyarrow's JSON reader (``invocation_log_records.py``); if that fails or a
required field is missing, it is read again line by line so only the malformed lines are
quarantined (into the lake's ``quarantine/``, with the reason) and the rest load. The table
mirrors the source: an object that is gone (deleted, expired) takes its rows with it. A request id
already loaded is not loaded again (a late duplicate delivery keeps the first copy).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from analytics.sql_files import load_sql
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.invocation_log_records import ROW_SCHEMA, read_log_object
from pipelines.lake_events import QUARANTINE_PREFIX

LOG_PATH = re.compile(
    r"^AWSLogs/\d{12}/BedrockModelInvocationLogs/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/\d{2}/[^/]+\.json\.gz$"
)
QUARANTINE_FOLDER = f"{QUARANTINE_PREFIX}/invocation-logs"
_INCOMING = ROW_SCHEMA.append(pa.field("source_file", pa.string()))

Log = Callable[[str], None]


@dataclass
class LogLoadReport:
    objects_read: int = 0
    records_read: int = 0
    records_loaded: int = 0
    malformed: dict[str, int] = field(default_factory=dict)  # object -> malformed lines quarantined
    quarantined: dict[str, str] = field(default_factory=dict)  # unreadable object -> reason

    @property
    def duplicates_dropped(self) -> int:
        return self.records_read - self.records_loaded


@dataclass(frozen=True)
class LogObject:
    path: str  # relative to the source
    size: int
    mtime_ns: int


def list_log_objects(source: LakeLocation) -> list[LogObject]:
    """The source's invocation-log objects in AWS's layout (anything else, such as the permission check
    object Bedrock writes, is not a log)."""
    prefix = source.path("") + "/"
    found = []
    for info in source.list_files("AWSLogs"):
        relative = info.path.removeprefix(prefix)
        if LOG_PATH.match(relative):
            found.append(LogObject(relative, int(info.size or 0), int(info.mtime_ns or 0)))
    return found


def load_invocation_logs(
    source: LakeLocation,
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    *,
    log: Log = lambda message: None,
) -> LogLoadReport:
    """Bring raw.invocation_logs up to date with the source: new and changed objects read, gone ones'
    rows removed. A local source is scanned by DuckDB in one parallel pass; the objects it cannot
    take (a malformed line, a record without its required fields, not gzip) and S3 objects are read
    one by one."""
    report = LogLoadReport()
    loaded = {
        path: (size, mtime_ns)
        for path, size, mtime_ns in connection.execute(load_sql("invocation_log_files_all")).fetchall()
    }
    present = list_log_objects(source)
    waiting = [obj for obj in present if loaded.get(obj.path) != (obj.size, obj.mtime_ns)]
    gone = sorted(loaded.keys() - {obj.path for obj in present})
    if not waiting and not gone:
        return report
    scanned = _scan_together(source, connection, waiting) if source.is_local else {}
    tables, manifest = [], []
    for obj in waiting:
        if obj.path in scanned:
            records = scanned[obj.path]
        else:
            table = _read_carefully(source, lake, connection, obj, report, log)
            records = 0 if table is None else table.num_rows
            if table is not None:
                tables.append(table)
        report.objects_read += obj.path not in report.quarantined
        report.records_read += records
        manifest.append({"path": obj.path, "size": obj.size, "mtime_ns": obj.mtime_ns, "records": records})
    careful = pa.concat_tables(tables) if tables else _INCOMING.empty_table()
    connection.execute("BEGIN TRANSACTION")
    try:
        changed = [entry["path"] for entry in manifest if entry["path"] in loaded] + gone
        if changed:
            connection.execute(load_sql("raw_invocation_logs_forget"), {"paths": changed})
            connection.execute(load_sql("invocation_log_files_forget"), {"paths": changed})
        connection.register("careful_logs", careful)
        connection.register("incoming_log_files", pa.Table.from_pylist(manifest, schema=_MANIFEST))
        if not scanned:
            _empty_scanned_logs(connection)
        insert = connection.execute(load_sql("raw_invocation_logs_insert"), {"scanned": list(scanned)})
        (inserted,) = insert.fetchall()[0]
        connection.execute(load_sql("invocation_log_files_insert"))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        for name in ("careful_logs", "incoming_log_files"):
            connection.unregister(name)
        connection.execute("DROP TABLE IF EXISTS scanned_logs")
    report.records_loaded = int(inserted)
    return report


def _scan_together(
    source: LakeLocation, connection: duckdb.DuckDBPyConnection, objects: list[LogObject]
) -> dict[str, int]:
    """The objects DuckDB read whole and valid into ``scanned_logs``, with their record counts; the
    others are left to the careful path. When the joint scan fails (a line that is not JSON, an object
    that is not gzip), the objects are scanned one at a time to find the ones to leave."""
    if not objects:
        return {}
    prefix_len = len(source.path("")) + 1
    scan = load_sql("raw_invocation_logs_scan")
    try:
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE scanned_logs AS {scan}",
            {"files": [source.path(obj.path) for obj in objects], "prefix_len": prefix_len},
        )
    except duckdb.Error:
        _empty_scanned_logs(connection)
        for obj in objects:
            with contextlib.suppress(duckdb.Error):
                connection.execute(
                    f"INSERT INTO scanned_logs {scan}",
                    {"files": [source.path(obj.path)], "prefix_len": prefix_len},
                )
    counts = connection.execute(
        "SELECT source_file, count(*), bool_and(valid) FROM scanned_logs GROUP BY source_file"
    ).fetchall()
    return {path: int(records) for path, records, valid in counts if valid}


def _empty_scanned_logs(connection: duckdb.DuckDBPyConnection) -> None:
    connection.register("no_logs", _INCOMING.append(pa.field("valid", pa.bool_())).empty_table())
    try:
        connection.execute("CREATE OR REPLACE TEMP TABLE scanned_logs AS SELECT * FROM no_logs")
    finally:
        connection.unregister("no_logs")


def _read_carefully(
    source: LakeLocation,
    lake: LakeLocation,
    connection: duckdb.DuckDBPyConnection,
    obj: LogObject,
    report: LogLoadReport,
    log: Log,
) -> pa.Table | None:
    """One object record by record: malformed lines quarantined, the rest returned; None if unreadable."""
    try:
        table, bad = read_log_object(source.read_bytes(obj.path))
    except ValueError as exc:
        reason = str(exc)
        _quarantine_object(source, lake, connection, obj.path, reason)
        report.quarantined[obj.path] = reason
        log(f"quarantined invocation-log object {obj.path}: {reason}")
        return None
    if bad:
        _quarantine_lines(lake, connection, obj.path, bad)
        report.malformed[obj.path] = len(bad)
        log(f"{obj.path}: {len(bad)} malformed record(s) quarantined, e.g. line {bad[0][0]}: {bad[0][2]}")
    return table.append_column("source_file", pa.array([obj.path] * table.num_rows, pa.string()))


_MANIFEST = pa.schema(
    [("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("records", pa.int64())]
)


def _quarantine_object(
    source: LakeLocation, lake: LakeLocation, connection: duckdb.DuckDBPyConnection, path: str, reason: str
) -> None:
    """A copy of the unreadable object goes to the lake's quarantine (the provider's bucket is left alone)."""
    target = f"{QUARANTINE_FOLDER}/{path}"
    lake.write_bytes(target, source.read_bytes(path))
    lake.write_bytes(f"{target}.reason.txt", f"{path}: {reason}\n".encode())
    _remember(connection, path, target, reason)


def _quarantine_lines(
    lake: LakeLocation, connection: duckdb.DuckDBPyConnection, path: str, bad: list[tuple[int, bytes, str]]
) -> None:
    target = f"{QUARANTINE_FOLDER}/{path.removesuffix('.json.gz')}.malformed.jsonl"
    lake.write_bytes(target, b"".join(line.rstrip(b"\n") + b"\n" for _, line, _ in bad))
    reasons = "".join(f"{path} line {number}: {reason}\n" for number, _, reason in bad)
    lake.write_bytes(f"{target}.reason.txt", reasons.encode())
    _remember(connection, path, target, f"{len(bad)} malformed record(s), e.g. line {bad[0][0]}: {bad[0][2]}")


def _remember(connection: duckdb.DuckDBPyConnection, path: str, target: str, reason: str) -> None:
    connection.execute(load_sql("quarantine_forget"), {"path": path})
    connection.execute(load_sql("quarantine_insert"), {"path": path, "target": target, "reason": reason})
