"""One invocation-log object parsed: AWS's record format into rows, malformed lines set apart with
their reasons, the whole-object fast path and the line-by-line path agreeing."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from pipelines.invocation_log_records import MalformedRecord, parse_record, read_log_object

RECORD = {
    "schemaType": "ModelInvocationLog",
    "schemaVersion": "1.0",
    "timestamp": "2026-11-14T09:00:01.250Z",
    "accountId": "111122223333",
    "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/r/s"},
    "region": "us-east-1",
    "requestId": "req-1",
    "operation": "Converse",
    "modelId": "anthropic.claude-3-5-haiku-v1",
    "input": {"inputContentType": "application/json", "inputTokenCount": 120, "cacheReadInputTokenCount": 30},
    "output": {"outputContentType": "application/json", "outputTokenCount": 45},
    "requestMetadata": {
        "aigw_trace_id": "abc",
        "aigw_tenant": "acme",
        "aigw_workflow": "ai-search",
        "x": "y",
    },
}


def _line(**changes: object) -> bytes:
    return json.dumps({**RECORD, **changes}).encode()


def test_a_record_becomes_a_row_with_the_join_keys() -> None:
    row = parse_record(_line(), 1)
    assert row["ts"] == dt.datetime(2026, 11, 14, 9, 0, 1, 250000, tzinfo=dt.UTC)
    assert (row["request_id"], row["model_id"], row["input_tokens"], row["output_tokens"]) == (
        "req-1",
        "anthropic.claude-3-5-haiku-v1",
        120,
        45,
    )
    assert row["cache_read_input_tokens"] == 30 and row["cache_write_input_tokens"] is None
    assert (row["trace_id"], row["tenant_id"], row["workflow"]) == ("abc", "acme", "ai-search")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not JSON"),
        (_line(schemaType="Other"), "schemaType 'Other'"),
        (_line(requestId=""), "missing request_id"),
        (_line(timestamp="yesterday"), "is not RFC 3339"),
        (_line(output={"outputTokenCount": "many"}), "output_tokens 'many' is not a whole number"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
def test_malformed_lines_are_named(line: bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        parse_record(line, 1)


def test_the_fast_path_and_the_careful_path_give_the_same_rows() -> None:
    lines = [_line(requestId=f"req-{i}", input={"inputTokenCount": i}) for i in range(5)]
    fast, none_bad = read_log_object(gzip.compress(b"\n".join(lines) + b"\n"))
    careful, bad = read_log_object(gzip.compress(b"\n".join([*lines[:2], b"{broken", *lines[2:]]) + b"\n"))
    assert none_bad == [] and [(n, reason[:8]) for n, _, reason in bad] == [(3, "not JSON")]
    columns = [c for c in fast.column_names if c != "line"]
    assert fast.select(columns).to_pylist() == careful.select(columns).to_pylist()
    assert fast.column("input_tokens").to_pylist() == [0, 1, 2, 3, 4]


def test_an_object_that_is_not_gzip_is_refused() -> None:
    with pytest.raises(ValueError, match="not a gzip object"):
        read_log_object(b"plain text")
