"""One Bedrock model-invocation log object parsed into rows: AWS's ``ModelInvocationLog`` records
(gzipped JSON lines) as ``ROW_SCHEMA``, with the lines that are not such a record set apart, each
with the reason. The fast path parses the whole object with pyarrow's JSON reader; the careful one
reads it line by line."""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from gateway_shim.wire.json_body import NotAJsonObject, json_object

SCHEMA_TYPE = "ModelInvocationLog"
METADATA_KEYS = {"trace_id": "aigw_trace_id", "tenant_id": "aigw_tenant", "workflow": "aigw_workflow"}

_STRING = pa.string()
_RECORD = pa.schema(
    [
        ("schemaType", _STRING),
        ("timestamp", _STRING),
        ("accountId", _STRING),
        ("identity", pa.struct([("arn", _STRING)])),
        ("region", _STRING),
        ("requestId", _STRING),
        ("operation", _STRING),
        ("modelId", _STRING),
        ("errorCode", _STRING),
        (
            "input",
            pa.struct(
                [
                    ("inputTokenCount", pa.int64()),
                    ("cacheReadInputTokenCount", pa.int64()),
                    ("cacheWriteInputTokenCount", pa.int64()),
                ]
            ),
        ),
        ("output", pa.struct([("outputTokenCount", pa.int64())])),
        ("requestMetadata", pa.struct([(key, _STRING) for key in METADATA_KEYS.values()])),
    ]
)
ROW_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("request_id", _STRING),
        ("account_id", _STRING),
        ("region", _STRING),
        ("identity_arn", _STRING),
        ("operation", _STRING),
        ("model_id", _STRING),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_input_tokens", pa.int64()),
        ("cache_write_input_tokens", pa.int64()),
        ("error_code", _STRING),
        ("trace_id", _STRING),
        ("tenant_id", _STRING),
        ("workflow", _STRING),
        ("line", pa.int64()),
    ]
)
REQUIRED = ("ts", "request_id", "model_id")


class MalformedRecord(ValueError):
    """One log line that is not a ModelInvocationLog record; the message is the reason."""


def parse_record(line: bytes, number: int) -> dict[str, Any]:
    """One line as a row of ROW_SCHEMA; ``MalformedRecord`` naming the problem."""
    try:
        record = json_object(line)
    except NotAJsonObject as exc:
        raise MalformedRecord(str(exc)) from None
    if record.get("schemaType") != SCHEMA_TYPE:
        raise MalformedRecord(f"schemaType {record.get('schemaType')!r} is not {SCHEMA_TYPE!r}")
    row = {
        "ts": record.get("timestamp"),
        "request_id": record.get("requestId"),
        "account_id": record.get("accountId"),
        "region": record.get("region"),
        "identity_arn": _get(record, "identity", "arn"),
        "operation": record.get("operation"),
        "model_id": record.get("modelId"),
        "input_tokens": _get(record, "input", "inputTokenCount"),
        "output_tokens": _get(record, "output", "outputTokenCount"),
        "cache_read_input_tokens": _get(record, "input", "cacheReadInputTokenCount"),
        "cache_write_input_tokens": _get(record, "input", "cacheWriteInputTokenCount"),
        "error_code": record.get("errorCode"),
        **{column: _get(record, "requestMetadata", key) for column, key in METADATA_KEYS.items()},
        "line": number,
    }
    missing = [name for name in REQUIRED if not row[name]]
    if missing:
        raise MalformedRecord(f"missing {', '.join(missing)}")
    try:
        row["ts"] = dt.datetime.fromisoformat(str(row["ts"]).replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError as exc:
        raise MalformedRecord(f"timestamp {row['ts']!r} is not RFC 3339") from exc
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens"):
        if row[name] is not None and (not isinstance(row[name], int) or isinstance(row[name], bool)):
            raise MalformedRecord(f"{name} {row[name]!r} is not a whole number")
    for name in (
        "request_id",
        "account_id",
        "region",
        "identity_arn",
        "operation",
        "model_id",
        "error_code",
        *METADATA_KEYS,
    ):
        if row[name] is not None and not isinstance(row[name], str):
            raise MalformedRecord(f"{name} {row[name]!r} is not a string")
    return row


def _get(record: dict[str, Any], outer: str, inner: str) -> Any:
    value = record.get(outer)
    return value.get(inner) if isinstance(value, dict) else None


def read_log_object(data: bytes) -> tuple[pa.Table, list[tuple[int, bytes, str]]]:
    """The object's records as ROW_SCHEMA rows, and its malformed lines (number, line, reason).
    ``ValueError`` when the object is not gzip at all."""
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"not a gzip object: {exc}") from exc
    fast = _read_whole(text)
    if fast is not None:
        return fast, []
    rows, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(parse_record(line, number))
        except MalformedRecord as exc:
            bad.append((number, line, str(exc)))
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA), bad


def _read_whole(text: bytes) -> pa.Table | None:
    """The whole object through pyarrow's JSON reader; None when any line needs a closer look."""
    if not text.strip():
        return pa.Table.from_pylist([], schema=ROW_SCHEMA)
    try:
        raw = pajson.read_json(
            pa.BufferReader(text),
            parse_options=pajson.ParseOptions(explicit_schema=_RECORD, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    kinds = raw.column("schemaType")
    if kinds.null_count or not pc.all(pc.equal(kinds, SCHEMA_TYPE)).as_py():
        return None
    try:
        ts = _timestamps(raw.column("timestamp"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    columns = {
        "ts": ts,
        "request_id": raw.column("requestId"),
        "account_id": raw.column("accountId"),
        "region": raw.column("region"),
        "identity_arn": pc.struct_field(raw.column("identity"), "arn"),
        "operation": raw.column("operation"),
        "model_id": raw.column("modelId"),
        "input_tokens": pc.struct_field(raw.column("input"), "inputTokenCount"),
        "output_tokens": pc.struct_field(raw.column("output"), "outputTokenCount"),
        "cache_read_input_tokens": pc.struct_field(raw.column("input"), "cacheReadInputTokenCount"),
        "cache_write_input_tokens": pc.struct_field(raw.column("input"), "cacheWriteInputTokenCount"),
        "error_code": raw.column("errorCode"),
        **{
            column: pc.struct_field(raw.column("requestMetadata"), key)
            for column, key in METADATA_KEYS.items()
        },
        "line": pa.array(range(1, raw.num_rows + 1), pa.int64()),
    }
    table = pa.table(columns, schema=ROW_SCHEMA)
    if any(table.column(name).null_count for name in REQUIRED):
        return None
    if pc.any(pc.equal(table.column("request_id"), "")).as_py():
        return None
    return table


def _timestamps(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """RFC 3339 UTC texts (``2026-11-14T09:00:00Z``, with or without fractions) as timestamps."""
    return pc.cast(pc.replace_substring_regex(values, "Z$", "+00:00"), pa.timestamp("us", tz="UTC"))
