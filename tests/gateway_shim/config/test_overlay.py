from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway_shim.config import ConfigError, load_config
from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.config.overlay import apply_overlay, load_config_document


def test_mappings_merge_key_by_key_and_lists_and_scalars_replace() -> None:
    base = {"a": {"x": 1, "y": [1, 2], "z": {"k": "v"}}, "b": 2}
    patch = {"a": {"y": [3], "z": {"new": True}}, "c": {"d": 1}}
    merged = apply_overlay(base, patch)
    assert merged == {"a": {"x": 1, "y": [3], "z": {"k": "v", "new": True}}, "b": 2, "c": {"d": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2], "z": {"k": "v"}}, "b": 2}, "the base is not modified"
    merged["c"]["d"] = 5
    assert patch["c"]["d"] == 1, "the result does not share the patch's objects"


def test_null_replaces_so_an_overlay_can_unset_an_optional_key() -> None:
    base = {"degrade": {"target": "p/m", "max_output_tokens": 512}}
    merged = apply_overlay(base, {"degrade": {"target": None}})
    assert merged == {"degrade": {"target": None, "max_output_tokens": 512}}


def write(tmp_path: Path, text: str, name: str = "overlay.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_an_overlay_on_the_demo_changes_only_what_it_names(tmp_path: Path) -> None:
    path = write(tmp_path, "base: demo\nlanes:\n  batch:\n    max_concurrency: 3\n"
                           "routes:\n  default:\n    targets: [bedrock/anthropic.claude-3-5-haiku-v1]\n")
    document, config = load_config_document(path)
    demo = load_config(DEMO_CONFIG)
    assert config.lanes["batch"].max_concurrency == 3
    assert config.lanes["batch"].max_queue == demo.lanes["batch"].max_queue
    assert config.lanes["interactive"] == demo.lanes["interactive"]
    assert [t.model for t in config.routes["default"].targets] == ["anthropic.claude-3-5-haiku-v1"]
    assert "base" not in document
    assert document["tenants"] == yaml.safe_load(DEMO_CONFIG.read_text())["tenants"]


def test_a_full_config_is_taken_as_it_is(tmp_path: Path) -> None:
    document, config = load_config_document(DEMO_CONFIG)
    assert config.policy_version == load_config(DEMO_CONFIG).policy_version
    assert document == yaml.safe_load(DEMO_CONFIG.read_text())


def test_a_base_path_is_relative_to_the_overlay(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine", DEMO_CONFIG.read_text(), "aigw.yaml")
    path = write(tmp_path / "mine", "base: aigw.yaml\ntenants:\n  acme:\n    monthly_budget_usd: 7\n")
    assert load_config_document(path)[1].tenants["acme"].monthly_budget_usd == 7


def test_a_bad_value_names_the_overlay_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "base: demo\n# comment\nlanes:\n  standard:\n    max_concurrency: -1\n")
    with pytest.raises(ConfigError) as info:
        load_config_document(path)
    assert f"{path}:5: lanes.standard.max_concurrency" in str(info.value)


def test_an_unknown_key_in_the_overlay_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "base: demo\ntenants:\n  acme:\n    montly_budget_usd: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config_document(path)
    assert f"{path}:4: tenants.acme.montly_budget_usd: unknown key" in str(info.value)


@pytest.mark.parametrize(("base", "expected"), [
    ("nope.yaml", "cannot read config"),
    ("42", "expected 'demo' or a path"),
])
def test_a_bad_base_is_refused(tmp_path: Path, base: str, expected: str) -> None:
    path = write(tmp_path, f"base: {base}\n")
    with pytest.raises(ConfigError, match=expected) as info:
        load_config_document(path)
    assert str(info.value).startswith(f"{path}:1: base: ")


def test_an_overlay_of_an_overlay_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "base: demo\n", "first.yaml")
    path = write(tmp_path, "base: first.yaml\n")
    with pytest.raises(ConfigError, match="not another overlay"):
        load_config_document(path)
