"""The cost marts price what the gateway charged: a call that failed without the provider's usage
records the gateway's input estimate at cost 0, and neither its tokens nor its images cost anything."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analytics.thresholds import RECONCILIATION_TOLERANCE
from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines import expected
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import ENDINGS_DAY, HAIKU, small_lake
from tests.pipelines.test_marts import assert_same

PRICED = ["priced_requests", "priced_input_tokens", "priced_output_tokens"]


def test_calls_ended_without_usage_cost_nothing_and_the_estimates_reconcile(tmp_path: Path) -> None:
    lake = small_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path, priced_extras=True)
    warehouse = tmp_path / "warehouse.duckdb"
    outcome = run(lake, warehouse)
    assert outcome.success
    assert not [c for c in outcome.failed_checks if "cost_reconciliation" in c], outcome.failed_checks

    endings = [e for e in lake.events if e["ts"].date() == ENDINGS_DAY and e["ts"].hour == 16]
    uncharged = [e for e in endings if e["estimated_cost_usd"] == 0 and e["input_tokens"]]
    assert len(uncharged) == 10 and all(e["input_images"] for e in uncharged)
    charged_failures = [e for e in endings if e["outcome"] != "ok" and e["estimated_cost_usd"] > 0]
    assert len(charged_failures) == 5

    events = expected.events_frame(lake.events, lake.v2)
    wanted = expected.cost_daily(events)
    with connect_read_only(warehouse) as connection:
        actual = pl.from_arrow(connection.sql("SELECT * FROM marts.cost_daily").to_arrow_table())
        [day_model] = connection.sql(
            f"SELECT sum(cost_usd), sum(estimated_cost_usd), sum(input_tokens), sum(priced_input_tokens) "
            f"FROM marts.cost_daily WHERE day = DATE '{ENDINGS_DAY}' AND model_name = '{HAIKU}'"
        ).fetchall()
    assert isinstance(actual, pl.DataFrame)
    values = ["requests", "ok_requests", "input_tokens", "output_tokens", "cost_usd", "estimated_cost_usd",
              "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "input_images",
              *expected.COST_PARTS, *PRICED]
    assert_same(actual, wanted, expected.COST_KEYS, values)

    cost, estimate, tokens, priced_tokens = day_model
    assert tokens - priced_tokens == sum(e["input_tokens"] for e in uncharged)  # counted, not priced
    assert abs(cost - estimate) / estimate < RECONCILIATION_TOLERANCE
    assert cost == pytest.approx(estimate, rel=1e-9)  # the gateway's own prices: the same figure
