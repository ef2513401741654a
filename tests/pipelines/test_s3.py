"""The pipeline reads an S3 lake (moto in server mode) through pyarrow, quarantining on S3 too."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import LakeLocation
from tests.helpers import MotoS3Server
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import small_lake

BROKEN = "events/v1/dt=2026-11-14/hour=07/gw-z-broken.parquet"


def test_pipeline_reads_an_s3_lake(
    s3_server: MotoS3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    url = s3_server.make_bucket("aigw-pipeline-test") + "/lake"
    location = LakeLocation.parse(url)
    lake = small_lake(location, tmp_path, days=2)
    location.write_bytes(BROKEN, b"not parquet")
    warehouse = tmp_path / "wh.duckdb"
    outcome = run(lake, warehouse)
    assert outcome.success
    assert [c for c in outcome.failed_checks if "quarantine_empty" in c and BROKEN in c]
    assert not location.exists(BROKEN) and location.exists(f"quarantine/{BROKEN}.reason.txt")
    with connect_read_only(warehouse) as connection:
        events, billed = connection.sql(
            "SELECT count(*), (SELECT sum(estimated_cost_usd) FROM marts.cost_daily) FROM raw.events"
        ).fetchall()[0]
    assert events == len(lake.events)
    assert billed == pytest.approx(sum(e["estimated_cost_usd"] for e in lake.events), rel=1e-9)
