"""A restarted `aigw serve` starts its budgets from the month's spend in the lake and its own spool."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

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
