"""Load-test summaries → rows, with errors naming the file."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.loadtest_summaries import parse_summary

PATH = "loadtests/run-1/summary.json"


def test_a_summary_becomes_a_row_in_utc() -> None:
    row = parse_summary(
        PATH,
        json.dumps(
            {
                "run_id": "run-1",
                "scenario": "budget",
                "started_at": "2026-11-18T12:00:00+02:00",
                "verdict": "fail",
                "duration_s": 30,
                "requests": 10,
                "rps": 1,
                "p95_ms": None,
                "error_rate": 0.5,
                "fallback_rate": 0,
                "refused_as_designed_rate": 0.3,
                "unexpected_errors": 2,
                "criteria": [{"name": "x", "passed": False}],
            }
        ),
    )
    assert row["started_at"] == dt.datetime(2026, 11, 18, 10, 0)
    assert row["duration_s"] == 30.0 and row["p95_ms"] is None
    assert (row["refused_as_designed_rate"], row["unexpected_errors"]) == (0.3, 2)
    assert json.loads(row["details"]) == [{"name": "x", "passed": False}]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"run_id": "r"}', r"missing key\(s\) scenario"),
        (
            '{"run_id": "r", "scenario": "s", "started_at": "2026-11-18", "verdict": "maybe"}',
            "verdict must be",
        ),
        ('{"run_id": "r", "scenario": "s", "started_at": "soon", "verdict": "pass"}', "Invalid isoformat"),
    ],
)
def test_malformed_summaries_name_the_file_and_problem(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        parse_summary(PATH, text)
    assert str(raised.value).startswith(PATH)

