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
from loadtests.harness import HarnessError, check_loopback, free_port, playbook_config
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
