"""Policy hot reload across three real replicas: a change reaches all within 5 s, a broken file changes none.

Each replica watches its own copy of the policy (as a config-management tool would write it on
each host); requests in flight finish under the version that admitted them, and limits carry over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config, parse_config
from gateway_shim.config.models import Config
from gateway_shim.server.policy_reload import PolicyReloader, ReloadRefused
from tests.gateway_shim.server.fleet import Fleet, start_fleet
from tests.gateway_shim.server.stack import ProviderProcess, call
from tests.helpers import RedisServer

REACH_S = 5.0


def _health(fleet: Fleet, index: int) -> dict[str, Any]:
    answer = call(f"{fleet.replicas[index].admin_url}/healthz", key=None)  # the admin listener
    assert answer.status == 200
    health: dict[str, Any] = answer.json()
    return health


def _versions(fleet: Fleet) -> list[str]:
    return [_health(fleet, i)["policy_version"] for i in range(len(fleet.replicas))]


def _errors(fleet: Fleet) -> list[str | None]:
    return [_health(fleet, i)["policy_reload_error"] for i in range(len(fleet.replicas))]


def _policy_file(fleet: Fleet, index: int) -> Path:
    return fleet.folder / f"gw{index}" / "aigw.yaml"


def _rewrite(fleet: Fleet, old: str, new: str) -> None:
    """Edit every replica's copy of the policy."""
    for i in range(len(fleet.replicas)):
        path = _policy_file(fleet, i)
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))


def _until(condition: Any, timeout: float) -> float | None:
    """Seconds until ``condition()`` held, or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def test_a_policy_change_reaches_every_replica_and_a_broken_file_changes_none(
        tmp_path: Path, provider: ProviderProcess, redis_server: RedisServer) -> None:
    fleet = start_fleet(tmp_path, provider, redis_server)
    try:
        first = _versions(fleet)[0]
        assert _versions(fleet) == [first] * 3
        assert all(_health(fleet, i)["policy_reload_error"] is None for i in range(3))
        limited = [fleet.chat(i, "test-limited") for i in range(30)]
        assert [a.status for a in limited if a] == [200] * 30
        provider.fault(model="hold-model", added_latency_ms=2500)
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(fleet.chat, 0, "demo-acme", "slow", 20,
                                    **{"x-aigw-workflow": "hold-test"})
            time.sleep(0.5)
            _rewrite(fleet, "monthly_budget_usd: 2.0", "monthly_budget_usd: 3.0")
            second = parse_config(_policy_file(fleet, 0).read_text()).policy_version
            assert second != first
            reached = _until(lambda: _versions(fleet) == [second] * 3, REACH_S)
            assert reached is not None, _versions(fleet)
            slow = in_flight.result()
        provider.clear_faults()
        assert slow is not None and slow.status == 200
        after = fleet.chat(1, "demo-acme", "after the reload")
        assert after is not None and after.status == 200
        # The rate window carried over the reload: the 31st request of the minute is still refused.
        assert [a.status for a in (fleet.chat(i, "test-limited") for i in range(3)) if a] == [429] * 3
        lake_policies = tmp_path / "lake" / "policies"
        assert (lake_policies / f"{first}.json").exists() and (lake_policies / f"{second}.json").exists()
        assert orjson.loads((lake_policies / f"{second}.json").read_bytes())["config"]["tenants"]["tiny"][
            "monthly_budget_usd"] == 3.0

        # A broken file (YAML syntax) and an invalid one (an unknown lane): every replica keeps serving.
        for good, bad in (("lanes: [standard]", "lanes: [standard"), ("lanes: [standard]", "lanes: [nope]")):
            _rewrite(fleet, good, bad)
            assert _until(lambda: all(_errors(fleet)), REACH_S)
            assert _versions(fleet) == [second] * 3
            for i in range(3):
                error = _health(fleet, i)["policy_reload_error"]
                assert f"{_policy_file(fleet, i)}:" in error and ("syntax" in error or "nope" in error), error
                assert fleet.metric(i, "aigw_policy_reload_ok") == 0.0
            served = fleet.chat(2, "demo-acme", "still served")
            assert served is not None and served.status == 200
            _rewrite(fleet, bad, good)
            assert _until(lambda: not any(_errors(fleet)), REACH_S)
        assert _versions(fleet) == [second] * 3

        # SIGHUP reloads even when the watch cannot see the change (same size, mtime put back).
        path = _policy_file(fleet, 0)
        stat = path.stat()
        path.write_text(path.read_text().replace("monthly_budget_usd: 3.0", "monthly_budget_usd: 4.0"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        third = parse_config(path.read_text()).policy_version
        time.sleep(2.5)
        assert _versions(fleet)[0] == second
        fleet.replicas[0].process.send_signal(signal.SIGHUP)
        assert _until(lambda: _versions(fleet)[0] == third, REACH_S) is not None
        assert fleet.metric(0, "aigw_policy_reloads_total") == 2.0
    finally:
        provider.clear_faults()
        assert fleet.stop() == [0, 0, 0]
    by_trace = {e["trace_id"]: e for e in fleet.events()}
    assert by_trace[slow.headers["x-aigw-trace-id"]]["policy_version"] == first
    assert by_trace[after.headers["x-aigw-trace-id"]]["policy_version"] == second


# ---- the reloader on its own (no server): what counts as a change, what keeps the old policy ----------

def _reloader(tmp_path: Path, refuse: bool = False) -> tuple[PolicyReloader, Path, list[Config]]:
    path = tmp_path / "aigw.yaml"
    path.write_text(DEMO_CONFIG.read_text())
    applied: list[Config] = []

    def apply(config: Config) -> None:
        if refuse:
            raise ReloadRefused("the state section changed")
        applied.append(config)

    return PolicyReloader(path, load_config(path), apply, poll_s=0.05), path, applied


def _edit(path: Path, old: str, new: str, keep_stat: bool = False) -> None:
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    if keep_stat:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_touch_is_no_change_and_an_edit_is_applied_once(tmp_path: Path) -> None:
    reloader, path, applied = _reloader(tmp_path)
    first = reloader.version
    path.touch()
    asyncio.run(reloader.check(force=False))
    assert applied == [] and reloader.reloads == 0
    _edit(path, "monthly_budget_usd: 2500", "monthly_budget_usd: 2600")
    asyncio.run(reloader.check(force=False))
    asyncio.run(reloader.check(force=False))
    assert [c.tenants["acme"].monthly_budget_usd for c in applied] == [2600]
    assert reloader.version == applied[0].policy_version != first
    assert reloader.gauges()["aigw_policy_info"] == [({"version": reloader.version}, 1.0)]
    assert reloader.health() == {"policy_file": str(path), "policy_reload_error": None}


def test_a_bad_document_keeps_the_old_policy_and_names_file_and_line_until_fixed(tmp_path: Path) -> None:
    reloader, path, applied = _reloader(tmp_path)
    first = reloader.version
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "monthly_budget_usd" in text)
    _edit(path, "monthly_budget_usd: 2500", "monthly_budget_usd: lots")
    asyncio.run(reloader.check(force=False))
    assert applied == [] and reloader.version == first
    assert reloader.error is not None and f"{path}:{line}:" in reloader.error
    assert "tenants.acme.monthly_budget_usd" in reloader.error
    assert reloader.gauges()["aigw_policy_reload_ok"] == [({}, 0.0)]
    _edit(path, "monthly_budget_usd: lots", "monthly_budget_usd: 2500")
    asyncio.run(reloader.check(force=False))
    assert reloader.error is None and applied == [] and reloader.version == first


def test_a_document_the_process_cannot_apply_live_keeps_the_old_one(tmp_path: Path) -> None:
    reloader, path, _ = _reloader(tmp_path, refuse=True)
    first = reloader.version
    _edit(path, "monthly_budget_usd: 2500", "monthly_budget_usd: 2600")
    asyncio.run(reloader.check(force=False))
    assert reloader.version == first and reloader.failures == 1
    assert reloader.error == f"{path}: the state section changed"


def test_sighup_reads_the_file_even_when_its_stat_did_not_move(tmp_path: Path) -> None:
    reloader, path, applied = _reloader(tmp_path)
    _edit(path, "monthly_budget_usd: 2500", "monthly_budget_usd: 2600", keep_stat=True)
    asyncio.run(reloader.check(force=False))
    assert applied == []
    asyncio.run(reloader.check(force=True))
    assert [c.tenants["acme"].monthly_budget_usd for c in applied] == [2600]



# ---- what a reload swaps in the server (runtime._adopt) -------------------------------------------------

def test_a_reload_emits_where_the_running_core_did_and_refuses_what_needs_a_restart() -> None:
    from gateway_shim.core import Gateway
    from gateway_shim.server.app import GatewayApp
    from gateway_shim.server.runtime import _adopt
    from gateway_shim.upstream.http_client import HttpClient
    from gateway_shim.upstream.registry import build_clients

    config = load_config(DEMO_CONFIG)
    events: list[dict[str, Any]] = []
    text = DEMO_CONFIG.read_text()
    cheaper = parse_config(text.replace("monthly_budget_usd: 900", "monthly_budget_usd: 800"), "new.yaml")
    assert cheaper.policy_version != config.policy_version
    exported = cheaper.model_copy(update={"telemetry": cheaper.telemetry.model_validate(
        {"otlp": {"endpoint": "http://127.0.0.1:4318"}})})

    async def scenario() -> None:  # the app's lanes live on a running loop
        http = HttpClient()
        gateway = Gateway(config, gateway_id="gw", emit=events.append)
        app = GatewayApp(config, gateway, build_clients(config, http), gateway_id="gw")
        assert _adopt(app, cheaper, "gw", http) == []  # no provider changed: every client kept
        assert app.config is cheaper and app.gateway is not gateway
        assert app.gateway.emit == events.append
        with pytest.raises(ReloadRefused, match="telemetry"):
            _adopt(app, exported, "gw", http)
        assert app.config is cheaper
        for client in app.dispatcher.clients.values():
            await client.aclose()

    asyncio.run(scenario())
