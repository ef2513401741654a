"""``aigw simulate`` end to end into a real lake folder (and S3 through the moto server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from aigw.cli import main
from gateway_shim.simulate.scenario import DEFAULT_SCENARIO
from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.storage import LakeLocation


def read_lake(root: Path) -> Any:
    dataset = ds.dataset(root / "events" / "v1", format="parquet", partitioning="hive")
    return dataset.to_table(columns=list(EVENT_SCHEMA.names))


def test_simulate_writes_schema_v2_events_and_the_policy_snapshot(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    args = ["simulate", "--days", "1", "--start", "2026-11-14", "--scale", "0.02", "--seed", "3",
            "--lake", str(lake)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "events in" in result.output and "run_id sim-default-20261114-1d-seed3-x0.02" in result.output
    # not a terminal: progress as lines (at least the last one), with the count and the rate
    assert any(line.startswith("  simulate 2026-11-15 00h  100%") and line.endswith("events/s")
               for line in result.output.splitlines()), result.output
    table = read_lake(lake)
    assert table.schema.equals(EVENT_SCHEMA, check_metadata=False)
    assert table.num_rows > 500
    assert len(set(table.column("event_id").to_pylist())) == table.num_rows
    names = {p.name for p in (lake / "policies").iterdir()}
    assert {v + ".json" for v in table.column("policy_version").unique().to_pylist()} == names
    files = list((lake / "events" / "v1").rglob("*.parquet"))
    assert files and all(f.name.startswith("sim-2026") for f in files)
    rows = table.select(["workflow", "outcome", "tool_calls", "cache_read_tokens", "operation",
                         "schema_version", "output_tokens"]).to_pylist()
    served = [r for r in rows if r["outcome"] == "ok"]
    agent = [r["tool_calls"] for r in served if r["workflow"] == "refund-agent"]
    assert agent and set(agent) == {0, 1} and 0.5 < sum(agent) / len(agent) < 0.85
    assert {r["tool_calls"] for r in served if r["workflow"] != "refund-agent"} == {0}
    assert any(r["cache_read_tokens"] for r in served)
    assert all(r["cache_read_tokens"] is not None for r in served)
    assert {(r["operation"], r["schema_version"]) for r in rows} == {("chat", 2), ("embeddings", 2)}
    embedded = [r for r in served if r["operation"] == "embeddings"]
    assert embedded and {(r["workflow"], r["output_tokens"], r["cache_read_tokens"]) for r in embedded} == {
        ("document-embedding", 0, 0)}


def test_a_bad_scenario_is_an_error_with_the_line_not_a_traceback(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    text = DEFAULT_SCENARIO.read_text().replace("requests_per_day: 50000", "requests_per_day: -5")
    scenario.write_text(text)
    result = CliRunner().invoke(main, ["simulate", "--days", "1", "--scenario", str(scenario),
                                       "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1
    assert f"{scenario}:" in result.output
    assert "requests_per_day: Input should be greater than 0" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "lake" / "events").exists()


def test_simulate_into_s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.make_bucket("aigw-sim")
    args = ["simulate", "--days", "1", "--start", "2026-11-02", "--scale", "0.01", "--lake", f"{bucket}/lake"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lake = LakeLocation.parse(f"{bucket}/lake")
    files = lake.list_files("events/v1")
    assert files and all(f.base_name.endswith(".parquet") for f in files)
    assert lake.list_files("policies")
