"""The client-side request log and phase marks survive a round trip; the summary has the agreed shape."""

from __future__ import annotations

import json
from pathlib import Path

from gateway_shim.config.overlay import load_config_document
from loadtests.playbooks import PLAYBOOKS
from loadtests.records import (
    ClientRecord,
    Phase,
    RequestLogWriter,
    read_locust_totals,
    read_phases,
    read_request_log,
    write_phases,
)
from loadtests.summary import build_summary, render_table, verdict_line
from loadtests.verdicts import Criterion, RunData, at_most, share_at_least

SUMMARY_KEYS = {"run_id", "scenario", "started_at", "duration_s", "verdict", "requests", "rps", "p95_ms",
                "error_rate", "fallback_rate", "criteria", "locust_csv", "refused_as_designed_rate",
                "unexpected_errors"}


def test_request_log_round_trip(tmp_path: Path) -> None:
    records = [ClientRecord(1.5, "interactive", "acme", 200, 812.25, fallback=True, model="m"),
               ClientRecord(2.0, "batch", "initech", 503, 3.0, retry_after="1", code="lane_shed")]
    with open(tmp_path / "requests.csv", "w", newline="") as handle:
        writer = RequestLogWriter(handle)
        for record in records:
            writer.write(record)
    assert read_request_log(tmp_path / "requests.csv") == records
    assert read_request_log(tmp_path / "missing.csv") == []


def test_phases_round_trip(tmp_path: Path) -> None:
    phases = [Phase("outage", 10.25, {"model": "m", "fault": {"outage": True}}), Phase("clear", 20.0, {})]
    write_phases(tmp_path / "phases.json", phases)
    assert read_phases(tmp_path / "phases.json") == phases
    assert read_phases(tmp_path / "none.json") == []


def test_summary_has_exactly_the_agreed_keys_and_is_json() -> None:
    client = [ClientRecord(100.0 + i, "interactive", "acme", 200 if i % 4 else 503, 100.0 * (i + 1),
                           fallback=i == 1) for i in range(8)]
    run = RunData("steady", load_config_document(PLAYBOOKS["steady"].config)[1], client, [], [], users=2)
    criteria = [Criterion("a", "<= 1", 0.5, True, "locust"), Criterion("b", ">= 1", None, False, "telemetry")]
    csv = ["loadtests/steady-x/locust_stats.csv"]
    summary = build_summary("steady-x", run, criteria, 1795608000.0, 8.0, csv)
    assert set(summary) == SUMMARY_KEYS
    assert summary["verdict"] == "fail"
    assert summary["started_at"] == "2026-11-25T12:00:00Z"
    assert (summary["requests"], summary["rps"], summary["error_rate"]) == (8, 1.0, 0.25)
    assert summary["fallback_rate"] == 0.125
    assert summary["p95_ms"] == 800.0
    assert summary["criteria"][1] == {"name": "b", "threshold": ">= 1", "measured": None, "passed": False,
                                      "source": "telemetry", "unit": ""}
    # steady refuses nothing by design: both 503s are unexpected
    assert (summary["refused_as_designed_rate"], summary["unexpected_errors"]) == (0.0, 2)
    json.dumps(summary)


def test_verdict_table_lists_every_criterion_with_its_unit_result_and_source() -> None:
    table = render_table([at_most("interactive_p95_ms", 812.5, 3000, "locust", " ms"),
                          Criterion("breaker_opened", ">= 1", 0, False, "telemetry"),
                          share_at_least("sheds_with_retry_after", 1.0, 1.0, "locust")])
    lines = table.splitlines()
    assert lines[0].split() == ["criterion", "threshold", "measured", "result", "source"]
    assert "PASS" in lines[2] and "locust" in lines[2] and "<= 3000 ms" in lines[2] and "812.5 ms" in lines[2]
    assert "FAIL" in lines[3] and "telemetry" in lines[3] and "breaker_opened" in lines[3]
    assert lines[4].split()[1:5] == [">=", "100", "%", "100"]  # a share reads as a percentage, both sides


def test_the_verdict_line_says_what_was_refused_by_design_and_what_failed() -> None:
    summary = {"scenario": "saturation", "verdict": "pass", "requests": 1234, "rps": 11.9, "p95_ms": 812.4,
               "refused_as_designed_rate": 0.5044, "unexpected_errors": 0}
    assert verdict_line(summary) == ("saturation: PASS  1,234 requests at 11.9 req/s, p95 812 ms; "
                                     "shed under overload 50.44 % as designed, unexpected errors 0")
    steady = summary | {"scenario": "steady", "refused_as_designed_rate": 0.0, "unexpected_errors": 3}
    assert verdict_line(steady).endswith("p95 812 ms, unexpected errors 3")


def test_locust_totals_come_from_the_aggregated_row(tmp_path: Path) -> None:
    stats = tmp_path / "locust_stats.csv"
    stats.write_text("Type,Name,Request Count,Failure Count,Median Response Time\n"
                     "POST,batch,10,4,1\nPOST,interactive,5,0,600\n,Aggregated,15,4,3\n")
    assert read_locust_totals(stats) == (15, 4)
    assert read_locust_totals(tmp_path / "missing.csv") == (0, 0)
