"""The run's report: ``loadtests/<run_id>/summary.json`` (the format ``marts.loadtest_runs`` reads)
and the verdict table printed on the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from loadtests.measures import percentile, share
from loadtests.verdicts import Criterion, RunData, verdict


def build_summary(run_id: str, run: RunData, criteria: list[Criterion], started_at: float, duration_s: float,
                  locust_csv: list[str]) -> dict[str, Any]:
    """The summary document; headline numbers come from the client's side (what users experienced)."""
    client = run.client
    p95 = percentile((r.ms for r in client if r.ok), 95)
    return {
        "run_id": run_id,
        "scenario": run.scenario,
        "started_at": dt.datetime.fromtimestamp(started_at, dt.UTC).isoformat(timespec="seconds").replace(
            "+00:00", "Z"),
        "duration_s": round(duration_s, 3),
        "verdict": verdict(criteria),
        "requests": len(client),
        "rps": round(len(client) / duration_s, 3) if duration_s > 0 else 0.0,
        "p95_ms": None if p95 is None else round(p95, 1),
        "error_rate": round(share(client, lambda r: not r.ok) or 0.0, 6),
        "fallback_rate": round(share(client, lambda r: r.ok and r.fallback) or 0.0, 6),
        "criteria": [c.as_dict() for c in criteria],
        "locust_csv": locust_csv,
    }


def render_table(criteria: list[Criterion]) -> str:
    """A plain-text table: criterion, threshold, measured, pass/fail, source."""
    header = ("criterion", "threshold", "measured", "result", "source")
    rows = [(c.name, c.threshold, "-" if c.measured is None else str(c.measured),
             "PASS" if c.passed else "FAIL", c.source) for c in criteria]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
