"""Policy hot reload across three real replicas: a change reaches all within 5 s, a broken file changes none.

Each replica watches its own copy of the policy (as a config-management tool would write it on
each host); requests in flight finish under the version that admitted them, and limits carry over.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from gateway_shim.config.loader import parse_config
from tests.gateway_shim.server.fleet import Fleet, start_fleet
from tests.gateway_shim.server.stack import ProviderProcess, call
from tests.helpers import RedisServer

REACH_S = 5.0


def _health(fleet: Fleet, index: int) -> dict[str, Any]:
    answer = call(f"{fleet.replicas[index].url}/healthz", key=None)
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
