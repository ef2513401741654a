"""marts.latency_by_workflow against percentiles computed independently from the lake's events."""

from __future__ import annotations

import polars as pl

from tests.pipelines import expected
from tests.pipelines.conftest import Built
from tests.pipelines.test_marts import assert_same


def test_latency_by_workflow_has_exact_percentiles_per_month_workflow_and_lane(built: Built) -> None:
    events = expected.events_frame(built.lake.events, built.lake.v2)
    lanes = built.lake.v2.lanes
    targets = pl.DataFrame({"latency_class": list(lanes),
                            "target_ms": [lane.slo.latency_ms for lane in lanes.values()]})
    ok_latency = pl.col("latency").filter(pl.col("is_ok"))
    wanted = (
        events.with_columns(month=pl.col("day").dt.truncate("1mo"))
        .join(targets, on="latency_class", how="left")
        .group_by(["month", "workflow", "latency_class"])
        .agg(
            requests=pl.len(),
            ok=pl.col("is_ok").sum(),
            errors=pl.col("is_error").sum(),
            within=(pl.col("is_ok") & (pl.col("latency") <= pl.col("target_ms"))).sum(),
            **{f"p{int(q * 100)}_ms": ok_latency.quantile(q, interpolation="linear") for q in expected.PCTS},
        )
        .with_columns(
            within_latency_pct=pl.when(pl.col("ok") > 0).then(100 * pl.col("within") / pl.col("ok")),
            year_month=pl.col("month").dt.strftime("%Y-%m"),
        )
    )
    actual = built.frame("SELECT * FROM marts.latency_by_workflow")
    assert_same(actual, wanted, ["month", "year_month", "workflow", "latency_class"],
                ["requests", "ok", "errors", "p50_ms", "p95_ms", "p99_ms", "within_latency_pct"])
    assert actual.get_column("workflow").n_unique() > 1
