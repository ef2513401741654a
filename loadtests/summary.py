"""The run's report: ``loadtests/<run_id>/summary.json`` (the format ``marts.loadtest_runs`` reads)
and the verdict table printed on the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from loadtests.measures import percentile, share
from loadtests.verdicts import Criterion, RunData, percent, refused_as_designed, verdict


def build_summary(run_id: str, run: RunData, criteria: list[Criterion], started_at: float, duration_s: float,
                  locust_csv: list[str]) -> dict[str, Any]:
    """The summary document; headline numbers come from the client's side (what users experienced)."""
    client = run.client
    p95 = percentile((r.ms for r in client if r.ok), 95)
    designed = [r for r in client if refused_as_designed(run.scenario, r)]
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
        "refused_as_designed_rate": round(len(designed) / len(client), 6) if client else 0.0,
        "unexpected_errors": sum(1 for r in client if not r.ok) - len(designed),
        "criteria": [c.as_dict() for c in criteria],
        "locust_csv": locust_csv,
    }


REFUSALS = {"saturation": "shed under overload", "budget": "stopped at the budget"}
"""What each playbook refuses on purpose (see ``verdicts.refused_as_designed``)."""


def measured_text(criterion: Criterion) -> str:
    """The measured value with its unit: shares as percentages, times and counts with their unit."""
    value = criterion.measured
    if value is None:
        return "-"
    if criterion.unit == "ratio" and isinstance(value, int | float):
        return percent(value)
    return f"{value} {criterion.unit}".rstrip() if isinstance(value, int | float) else str(value)


def verdict_line(summary: dict[str, Any]) -> str:
    """'saturation: PASS  1,234 requests at 11.9 req/s, p95 812 ms; shed under overload 50.4 % as
    designed, unexpected errors 0' — what was expected and what was not."""
    scenario = summary["scenario"]
    p95 = "-" if summary["p95_ms"] is None else f"{summary['p95_ms']:,.0f} ms"
    refused = REFUSALS.get(scenario)
    designed = f"; {refused} {percent(summary['refused_as_designed_rate'])} as designed" if refused else ""
    unexpected = summary["unexpected_errors"]
    return (f"{scenario}: {summary['verdict'].upper()}  {summary['requests']:,} requests at "
            f"{summary['rps']:g} req/s, p95 {p95}{designed}, unexpected errors {unexpected}")


def render_table(criteria: list[Criterion]) -> str:
    """A plain-text table: criterion, threshold, measured (with its unit), pass/fail, source."""
    header = ("criterion", "threshold", "measured", "result", "source")
    rows = [(c.name, c.threshold, measured_text(c), "PASS" if c.passed else "FAIL", c.source)
            for c in criteria]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
