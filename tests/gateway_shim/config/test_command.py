from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from gateway_shim.config import load_config
from gateway_shim.config.loader import DEMO_CONFIG


def run_aigw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aigw", *args], capture_output=True, text=True, timeout=60)


def test_policy_check_prints_the_version() -> None:
    result = run_aigw("policy", "check", str(DEMO_CONFIG))
    assert result.returncode == 0, result.stderr
    assert load_config(DEMO_CONFIG).policy_version in result.stdout


def test_policy_check_against_lists_key_level_differences(tmp_path: Path) -> None:
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    document["tenants"]["initech"]["monthly_budget_usd"] = 1200
    del document["routes"]["ai-search"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(document))
    result = run_aigw("policy", "check", str(changed), "--against", str(DEMO_CONFIG))
    assert result.returncode == 0, result.stderr
    assert "~ tenants.initech.monthly_budget_usd: 900.0 -> 1200.0" in result.stdout
    assert "- routes.ai-search:" in result.stdout
    assert "2 difference(s)" in result.stdout


def test_policy_check_on_a_bad_file_exits_non_zero_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_CONFIG.read_text().replace("timeout_s: 10", "timeout_s: soon", 1))
    result = run_aigw("policy", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:" in result.stderr and "lanes.interactive.timeout_s" in result.stderr
    assert "Traceback" not in result.stderr


def test_policy_check_resolves_an_overlay_against_its_base(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("base: demo\ntenants:\n  initech:\n    monthly_budget_usd: 1200\n")
    result = run_aigw("policy", "check", str(overlay), "--against", str(DEMO_CONFIG))
    assert result.returncode == 0, result.stderr
    assert "1 difference(s)" in result.stdout
    assert "~ tenants.initech.monthly_budget_usd: 900.0 -> 1200.0" in result.stdout


def test_policy_check_refuses_a_pattern_that_cannot_run_in_linear_time(tmp_path: Path) -> None:
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    document["guardrails"]["deny_patterns"].append({"name": "echo", "regex": r"(\w+) \1"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run_aigw("policy", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:" in result.stderr and "guardrails.deny_patterns.2.regex" in result.stderr
    assert r"pattern '(\\w+) \\1' cannot run in linear time" in result.stderr
    assert "Traceback" not in result.stderr
