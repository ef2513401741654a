"""The harness's pure parts and its refusals: config rewriting, loopback-only, clear CLI errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aigw.cli import main
from gateway_shim.config import load_config
from gateway_shim.config.loader import DEMO_CONFIG
from loadtests.control import ControlError, ProviderControl
from loadtests.harness import (
    HarnessError,
    check_loopback,
    fleet_edit,
    free_port,
    locust_args,
    playbook_config,
)
from loadtests.playbooks import PLAYBOOKS, playbook


def test_playbook_config_points_simulated_providers_at_the_runs_provider(tmp_path: Path) -> None:
    config = playbook_config(PLAYBOOKS["fallback"].config, "http://127.0.0.1:12345", tmp_path / "c.yaml")
    assert {p.endpoint for p in config.providers.values() if p.kind == "simulated"} == {"http://127.0.0.1:12345"}
    assert config.providers["bedrock"].circuit_breaker.open_s == 3
    written = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert written["providers"]["bedrock"]["endpoint"] == "http://127.0.0.1:12345"


def test_only_loopback_addresses() -> None:
    check_loopback("http://127.0.0.1:8080")
    with pytest.raises(HarnessError, match="loopback"):
        check_loopback("http://10.0.0.1:8080")
    with pytest.raises(ControlError, match="not a loopback"):
        ProviderControl("http://example.com:9000")


def test_unreachable_provider_is_a_clear_error_quickly() -> None:
    control = ProviderControl(f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    with pytest.raises(ControlError, match="unreachable"):
        control.inject("m", outage=True)


def test_unknown_playbook_names_the_choices() -> None:
    with pytest.raises(ValueError, match="steady"):
        playbook("nope")


def test_a_bad_config_is_refused_with_its_file_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntenants: {}\n")
    args = ["loadtest", "steady", "--config", str(bad), "--lake", str(tmp_path / "l"),
            "--workdir", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "bad.yaml" in result.output
    assert not (tmp_path / "provider.log").exists()


def test_durations_too_short_and_users_for_a_shape_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["loadtest", "circuit", "--duration", "6", "--lake", str(tmp_path)])
    assert result.exit_code == 2 and "circuit needs at least 10s" in result.output
    result = CliRunner().invoke(main, ["loadtest", "saturation", "--users", "5", "--lake", str(tmp_path)])
    assert result.exit_code == 2 and "load shape sets the users" in result.output


@pytest.mark.parametrize("name", sorted(PLAYBOOKS))
def test_playbook_configs_are_overlays_that_keep_the_demo_slos(name: str, tmp_path: Path) -> None:
    assert yaml.safe_load(PLAYBOOKS[name].config.read_text())["base"] == "demo"
    config = playbook_config(PLAYBOOKS[name].config, "http://127.0.0.1:12345", tmp_path / "c.yaml")
    demo = load_config(DEMO_CONFIG)
    assert [(n, c.slo) for n, c in config.lanes.items()] == [(n, c.slo) for n, c in demo.lanes.items()]
    assert load_config(tmp_path / "c.yaml") == config, "the gateway runs the resolved, full config"


def test_a_bad_overlay_is_refused_with_its_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "overlay.yaml"
    bad.write_text("base: demo\nlanes:\n  interactive:\n    max_concurrency: zero\n")
    args = ["loadtest", "steady", "--config", str(bad), "--lake", str(tmp_path / "l"),
            "--workdir", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"{bad}:4: lanes.interactive.max_concurrency" in result.output


def test_a_fleet_config_shares_state_in_redis_and_splits_each_lanes_slots(tmp_path: Path) -> None:
    edit = fleet_edit("redis://127.0.0.1:6390/0", "lt:run-1:", 3)
    source, provider = PLAYBOOKS["saturation"].config, "http://127.0.0.1:12345"
    config = playbook_config(source, provider, tmp_path / "c.yaml", edit)
    single = playbook_config(source, provider, tmp_path / "s.yaml")
    assert (config.state.backend, config.state.url, config.state.key_prefix, config.state.replicas) == (
        "redis", "redis://127.0.0.1:6390/0", "lt:run-1:", 3)
    for name, lane in single.lanes.items():
        split = config.lanes[name]
        assert split.max_concurrency == -(-lane.max_concurrency // 3)
        assert split.max_queue == -(-lane.max_queue // 3)
        assert 3 * split.max_concurrency >= lane.max_concurrency and split.slo == lane.slo


def test_locust_deals_its_users_to_every_gateway_of_a_fleet(tmp_path: Path) -> None:
    hosts = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]
    args = locust_args(PLAYBOOKS["budget"], hosts=hosts, provider_url="http://127.0.0.1:9", run_id="r",
                       duration_s=5, out=tmp_path, users=None, wait_for=[])
    assert args[args.index("--host") + 1] == hosts[0]
    assert args[args.index("--aigw-hosts") + 1] == ",".join(hosts)
    single = locust_args(PLAYBOOKS["budget"], hosts=hosts[:1], provider_url="http://127.0.0.1:9", run_id="r",
                         duration_s=5, out=tmp_path, users=None, wait_for=[])
    assert "--aigw-hosts" not in single


def test_hosts_and_replicas_are_one_or_the_other_and_every_host_is_loopback(tmp_path: Path) -> None:
    args = ["loadtest", "budget", "--host", "http://127.0.0.1:1,http://127.0.0.1:2", "--replicas", "3",
            "--lake", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--replicas" in result.output
    args = ["loadtest", "budget", "--host", "http://127.0.0.1:1", "--host", "http://10.0.0.2:8080",
            "--lake", str(tmp_path), "--workdir", str(tmp_path / "w")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "10.0.0.2" in result.output and "loopback" in result.output
