"""``loadtests/<run_id>/summary.json`` objects → rows of ``marts.loadtest_runs``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from pipelines.json_objects import parse_lake_json

SUMMARY_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("scenario", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("duration_s", pa.float64()),
        ("verdict", pa.string()),
        ("requests", pa.int64()),
        ("rps", pa.float64()),
        ("p95_ms", pa.float64()),
        ("error_rate", pa.float64()),
        ("fallback_rate", pa.float64()),
        ("refused_as_designed_rate", pa.float64()),
        ("unexpected_errors", pa.int64()),
        ("details", pa.string()),
        ("source_path", pa.string()),
    ]
)
_NUMBERS = ("duration_s", "rps", "p95_ms", "error_rate", "fallback_rate", "refused_as_designed_rate")
_COUNTS = ("requests", "unexpected_errors")
"""Summaries written before a field existed leave it NULL (e.g. the split of errors into refused by design
and unexpected)."""


def parse_summary(relative_path: str, text: str) -> dict[str, Any]:
    """One summary as a row; ``ValueError`` naming the file and the problem when it is malformed."""
    data = parse_lake_json(relative_path, text)
    missing = [k for k in ("run_id", "scenario", "started_at", "verdict") if k not in data]
    if missing:
        raise ValueError(f"{relative_path}: missing key(s) {', '.join(missing)}")
    if data["verdict"] not in ("pass", "fail"):
        raise ValueError(f"{relative_path}: verdict must be 'pass' or 'fail', got {data['verdict']!r}")
    try:
        started = dt.datetime.fromisoformat(str(data["started_at"]))
        numbers = {k: None if data.get(k) is None else float(data[k]) for k in _NUMBERS}
        counts = {k: None if data.get(k) is None else int(data[k]) for k in _COUNTS}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{relative_path}: {exc}") from exc
    if started.tzinfo is not None:
        started = started.astimezone(dt.UTC).replace(tzinfo=None)
    return {
        "run_id": str(data["run_id"]),
        "scenario": str(data["scenario"]),
        "started_at": started,
        "verdict": data["verdict"],
        **counts,
        **numbers,
        "details": json.dumps(data.get("criteria", []), sort_keys=True),
        "source_path": relative_path,
    }
