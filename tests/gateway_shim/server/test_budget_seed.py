"""A restarted `aigw serve` starts its budgets from the month's spend in the lake and its own spool."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway_shim.telemetry.schema import EVENT_SCHEMA
from gateway_shim.telemetry.spend import month_start_of
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.server.stack import KEYS, GatewayProcess, ProviderProcess, call, chat, start_gateway
from tests.gateway_shim.telemetry.events import make_event
from tests.gateway_shim.telemetry.spend_lake import leave_in_spool, spend_events, us, write_lake
from tests.helpers import free_port


def _this_month(tenant: str, other: str) -> tuple[dt.date, list[list[dict[str, Any]]]]:
    """``tenant`` has spent $0.875 and ``other`` $0.75 this month in the lake (plus noise around it)."""
    month = month_start_of(dt.datetime.now(dt.UTC))
    return month, [list(batch) for batch in spend_events(month, tenant, other)]


def _crashed(i: int, month: dt.date, tenant: str, cost: float) -> dict[str, Any]:
    return make_event(i, us(dt.datetime.combine(month, dt.time(2), dt.UTC)), tenant_id=tenant,
                      estimated_cost_usd=cost)


def _gauge(gateway: GatewayProcess, name: str) -> dict[str, float]:
    found = re.findall(rf'^{name}(?:{{tenant="([^"]*)"}})? (\S+)$', gateway.metrics(), re.MULTILINE)
    return {tenant: float(value) for tenant, value in found}


def _first_requests(gateway: GatewayProcess) -> tuple[Any, Any]:
    tiny = call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=4), key=KEYS["tiny"])
    acme = call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=4), key=KEYS["acme"])
    return tiny, acme


def test_a_restarted_gateway_refuses_a_tenant_whose_budget_the_lake_and_spool_say_is_spent(
        tmp_path: Path, provider: ProviderProcess) -> None:
    month, batches = _this_month("tiny", "acme")
    write_lake(LakeLocation.parse(str(tmp_path / "lake")), tmp_path / "writers", batches)
    # The previous run of this replica crashed with one event uploaded, one only in its spool:
    # $0.875 in the lake alone would still admit a small request under tiny's $1 budget.
    leave_in_spool(tmp_path / "spool" / "seed-gw", [batches[0][1], _crashed(90, month, "tiny", 0.25)])
    gateway = start_gateway(tmp_path, provider, gateway_id="seed-gw")
    try:
        tiny, acme = _first_requests(gateway)
        seeded = _gauge(gateway, "aigw_budget_seeded_usd")
        ok = _gauge(gateway, "aigw_budget_seed_ok")
    finally:
        code = gateway.stop()
    assert (tiny.status, tiny.json()["error"]["code"]) == (429, "budget_exceeded")
    assert "month-to-date spend $1.12" in tiny.json()["error"]["message"]
    assert acme.status == 200
    assert seeded == {"acme": 0.75, "tiny": 1.125}
    assert ok == {"": 1.0}
    assert code == 0
    log = gateway.log.read_text()
    assert f"budgets seeded from the lake for {month:%Y-%m}: $1.88 (acme $0.75, tiny $1.12)" in log
    assert "+ 2 spooled" in log
    # the replayed spool reached the lake once, with the request just served: the next start counts both
    restarted = start_gateway(tmp_path / "again", provider, gateway_id="seed-gw-2",
                              lake_url=str(tmp_path / "lake"))
    try:
        reseeded = _gauge(restarted, "aigw_budget_seeded_usd")
    finally:
        restarted.stop()
    assert reseeded == {"acme": pytest.approx(0.75 + float(acme.headers["x-aigw-cost-usd"]), abs=1e-5),
                        "tiny": 1.125}


def test_an_s3_lake_seeds_the_budgets(tmp_path: Path, provider: ProviderProcess, s3_server: Any) -> None:
    month, batches = _this_month("tiny", "acme")
    batches.append([_crashed(91, month, "tiny", 0.25)])
    lake_url = f"{s3_server.make_bucket('seed-lake')}/prod"
    write_lake(LakeLocation.parse(lake_url, s3_server.env), tmp_path / "writers", batches)
    gateway = start_gateway(tmp_path, provider, gateway_id="seed-s3", lake_url=lake_url, env=s3_server.env)
    try:
        tiny, acme = _first_requests(gateway)
        seeded = _gauge(gateway, "aigw_budget_seeded_usd")
    finally:
        gateway.stop()
    assert (tiny.status, acme.status) == (429, 200)
    assert seeded == {"acme": 0.75, "tiny": 1.125}


def test_an_unreadable_lake_delays_start_briefly_then_serves_on_the_spool_alone(
        tmp_path: Path, provider: ProviderProcess) -> None:
    month, _ = _this_month("tiny", "acme")
    leave_in_spool(tmp_path / "spool" / "seed-dead", [_crashed(92, month, "tiny", 1.5)])
    dead = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
            "AIGW_BUDGET_SEED_TIMEOUT": "1", "AIGW_S3_CONNECT_TIMEOUT": "0.5"}
    gateway = start_gateway(tmp_path, provider, gateway_id="seed-dead", lake_url="s3://no-such-lake",
                            env=dead)
    try:
        tiny, acme = _first_requests(gateway)
        ok = _gauge(gateway, "aigw_budget_seed_ok")
        seeded = _gauge(gateway, "aigw_budget_seeded_usd")
    finally:
        gateway.process.kill()  # its lake is down: a graceful stop would wait for the flush timeout
        gateway.process.wait(timeout=10)
    assert ok == {"": 0.0}
    assert seeded == {"tiny": 1.5}
    assert (tiny.status, acme.status) == (429, 200)
    assert "budgets NOT seeded from the lake" in gateway.log.read_text()


def _write_bad_files(lake: LakeLocation, month: dt.date) -> tuple[str, str]:
    """A truncated Parquet file and one whose cost column is text, both in this month's first day."""
    day = f"events/v1/dt={month}/hour=03"
    truncated = f"{day}/truncated.parquet"
    good = pa.Table.from_pylist([_crashed(93, month, "tiny", 0.5)], schema=EVENT_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(good, sink)
    lake.write_bytes(truncated, sink.getvalue().to_pybytes()[:-100])
    as_text = f"{day}/cost-as-text.parquet"
    rows = good.set_column(good.schema.get_field_index("estimated_cost_usd"), "estimated_cost_usd",
                           pa.array(["3001.0"], pa.string()))
    rows = rows.set_column(0, "event_id", pa.array(["text-cost-1"], pa.string()))
    sink = pa.BufferOutputStream()
    pq.write_table(rows, sink)
    lake.write_bytes(as_text, sink.getvalue().to_pybytes())
    return truncated, as_text


def test_bad_files_are_skipped_named_and_quarantined_and_start_up_stays_fast(
        tmp_path: Path, provider: ProviderProcess) -> None:
    month, batches = _this_month("tiny", "acme")
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    write_lake(lake, tmp_path / "writers", batches)
    truncated, as_text = _write_bad_files(lake, month)
    started = time.monotonic()
    gateway = start_gateway(tmp_path, provider, gateway_id="seed-bad")
    took = time.monotonic() - started
    try:
        seeded = _gauge(gateway, "aigw_budget_seeded_usd")
        ok = _gauge(gateway, "aigw_budget_seed_ok")
        skipped = _gauge(gateway, "aigw_budget_seed_skipped_files")
    finally:
        gateway.stop()
    assert seeded == {"acme": 0.75, "tiny": 0.875}  # neither $0.50 nor $3,001 from the bad files
    assert ok == {"": 1.0} and skipped == {"": 2.0}
    assert took < 20, took  # was 60 s (the retry timeout), then every tenant at $0
    log = gateway.log.read_text()
    assert "attempt" not in log
    assert truncated in log and as_text in log and "estimated_cost_usd" in log
    for path in (truncated, as_text):
        assert lake.exists(f"quarantine/{path}") and lake.exists(f"quarantine/{path}.reason.txt")
        assert lake.exists(path)  # left in place: the pipeline decides what to do with it
