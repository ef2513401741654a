from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from gateway_shim.config import load_config
from gateway_shim.telemetry.policies import without_key_hashes, write_policy_snapshot
from gateway_shim.telemetry.storage import LakeLocation
from tests.helpers import MotoS3Server


def test_each_policy_version_is_written_once(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    config = load_config()
    first = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    path = write_policy_snapshot(lake, config, now=first)
    assert path == f"policies/{config.policy_version}.json"
    assert write_policy_snapshot(lake, config, now=first + dt.timedelta(days=3)) == path
    snapshot = orjson.loads(lake.read_bytes(path))
    assert snapshot["policy_version"] == config.policy_version
    assert snapshot["first_seen"] == "2026-11-01T08:00:00+00:00"
    assert snapshot["config"]["routes"] == orjson.loads(config.canonical_json())["routes"]


def test_policy_snapshot_on_s3(s3_server: MotoS3Server) -> None:
    lake = LakeLocation.parse(s3_server.make_bucket("lake-policies"), env=s3_server.env)
    config = load_config()
    path = write_policy_snapshot(lake, config)
    assert [info.path for info in lake.list_files("policies")] == [f"lake-policies/{path}"]


def test_snapshots_name_the_keys_and_never_hold_their_hashes(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    config = load_config()
    raw = lake.read_bytes(write_policy_snapshot(lake, config))
    snapshot = orjson.loads(raw)
    for tenant_id, tenant in config.tenants.items():
        assert snapshot["config"]["tenants"][tenant_id]["api_keys"] == [key.name for key in tenant.api_keys]
        assert snapshot["config"]["tenants"][tenant_id]["load_test_keys"] == [
            key.name for key in tenant.api_keys if key.load_tests]  # the demo grants every key
        for key in tenant.api_keys:
            assert key.sha256.encode() not in raw


def test_snapshots_name_the_keys_that_may_mark_load_test_traffic() -> None:
    document = {"tenants": {
        "acme": {"api_keys": [{"name": "everyday", "sha256": "a" * 64},
                              {"name": "runner", "sha256": "b" * 64, "load_tests": True}]},
        "globex": {"api_keys": [{"name": "only", "sha256": "c" * 64}]}}}
    assert without_key_hashes(document)["tenants"] == {
        "acme": {"api_keys": ["everyday", "runner"], "load_test_keys": ["runner"]},
        "globex": {"api_keys": ["only"]}}
