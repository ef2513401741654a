from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from gateway_shim.config import ConfigError, load_config, parse_config
from gateway_shim.config.loader import DEMO_CONFIG

DEMO_TEXT = DEMO_CONFIG.read_text()


def edited(mutate) -> str:
    """The demo document with one edit applied, dumped back to YAML."""
    document = yaml.safe_load(DEMO_TEXT)
    mutate(document)
    return yaml.safe_dump(document, sort_keys=False)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "aigw.yaml")
    return str(info.value)


def test_demo_config_loads_with_the_three_tenants_and_lanes() -> None:
    config = load_config(DEMO_CONFIG)
    assert set(config.tenants) == {"acme", "globex", "initech"}
    assert {t.team for t in config.tenants.values()} == {"payments", "support", "search"}
    assert set(config.lanes) == {"interactive", "standard", "batch"}
    assert set(config.data_classes) == {"public", "internal", "restricted"}
    assert config.data_classes["restricted"].providers == ["bedrock"]


def test_examples_file_is_the_demo_config() -> None:
    example = Path(__file__).parents[3] / "examples" / "aigw.yaml"
    assert load_config(example).policy_version == load_config(DEMO_CONFIG).policy_version


def test_policy_version_is_a_short_stable_hash_that_changes_with_the_document() -> None:
    first = parse_config(DEMO_TEXT)
    assert first.policy_version == parse_config(DEMO_TEXT).policy_version
    assert len(first.policy_version) == 12
    reordered = parse_config(yaml.safe_dump(yaml.safe_load(DEMO_TEXT), sort_keys=True))
    assert reordered.policy_version == first.policy_version
    changed = parse_config(edited(lambda d: d["tenants"]["acme"].update(monthly_budget_usd=1)))
    assert changed.policy_version != first.policy_version


def test_price_lookup_returns_the_price_in_force_on_the_day() -> None:
    config = parse_config(DEMO_TEXT)
    haiku = "anthropic.claude-3-5-haiku-v1"
    before = config.price_on(haiku, dt.date(2026, 11, 14))
    after = config.price_on(haiku, dt.date(2026, 11, 15))
    assert before is not None and after is not None
    assert (before.input_per_mtok, before.output_per_mtok) == (0.80, 4.00)
    assert (after.input_per_mtok, after.output_per_mtok) == (1.00, 5.00)
    assert config.price_on(haiku, dt.date(2025, 12, 31)) is None
    assert config.price_on("no-such-model", dt.date(2026, 11, 20)) is None


def test_a_negative_per_image_price_names_file_line_and_key() -> None:
    text = DEMO_TEXT.replace("input_per_mtok: 0.06, output_per_mtok: 0.24}",
                             "input_per_mtok: 0.06, output_per_mtok: 0.24, input_image_usd: -0.01}")
    assert text != DEMO_TEXT
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "input_image_usd" in row)
    message = error_of(text)
    assert f"aigw.yaml:{line}: pricing.amazon.nova-lite-v1.0.input_image_usd" in message
    assert "greater than or equal to 0" in message
    assert parse_config(text.replace("-0.01", "0.0004")).price_on(
        "amazon.nova-lite-v1", dt.date(2026, 11, 20)).input_image_usd == 0.0004  # type: ignore[union-attr]


def test_unknown_key_names_file_line_and_path() -> None:
    message = error_of(edited(lambda d: d["tenants"]["acme"].update(colour="red")))
    assert "tenants.acme.colour: unknown key" in message
    assert "aigw.yaml:" in message


def test_wrong_type_names_the_key() -> None:
    message = error_of(edited(lambda d: d["lanes"]["batch"].update(timeout_s="slow")))
    assert "lanes.batch.timeout_s" in message
    assert "valid number" in message


def test_route_naming_an_unknown_provider_is_rejected() -> None:
    message = error_of(edited(lambda d: d["routes"]["default"]["targets"].append("nowhere/gpt-4o-mini")))
    assert "routes.default.targets.3: unknown provider 'nowhere'" in message


def test_tenant_naming_an_unknown_lane_is_rejected() -> None:
    message = error_of(edited(lambda d: d["tenants"]["globex"].update(lanes=["turbo"])))
    assert "tenants.globex.lanes.0: unknown lane 'turbo'" in message


def test_target_without_price_and_bad_target_syntax_are_rejected() -> None:
    message = error_of(edited(lambda d: d["routes"]["batch"]["targets"].append("bedrock/unpriced-model")))
    assert "model 'unpriced-model' has no pricing entry" in message
    bad_syntax = edited(lambda d: d["routes"]["batch"].update(targets=["x"]))
    assert "must be 'provider/model'" in error_of(bad_syntax)


def test_missing_default_route_and_bad_key_hash_are_rejected() -> None:
    assert "a route named 'default' is required" in error_of(edited(lambda d: d["routes"].pop("default")))
    bad_hash = edited(lambda d: d["tenants"]["acme"]["api_keys"][0].update(sha256="demo-acme"))
    assert "tenants.acme.api_keys.0.sha256: must be 64 lowercase hex characters" in error_of(bad_hash)


def test_invalid_regex_in_deny_pattern_is_rejected() -> None:
    message = error_of(edited(lambda d: d["guardrails"]["deny_patterns"].append({"name": "x", "regex": "("})))
    assert "guardrails.deny_patterns.2.regex: pattern '(' cannot run in linear time" in message


@pytest.mark.parametrize("regex", [r"(a)\1", "(?<=x)secret", "(?=x)secret", "secret(?!ok)"])
def test_deny_patterns_that_need_backtracking_are_rejected_with_file_and_line(regex: str) -> None:
    text = edited(lambda d: d["guardrails"]["output_validation"]["deny_patterns"].append(
        {"name": "slow", "regex": regex}))
    message = error_of(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "slow" in row) + 1
    where = f"aigw.yaml:{line}: guardrails.output_validation.deny_patterns.1.regex"
    assert f"{where}: pattern {regex!r}" in message
    assert "cannot run in linear time" in message


def test_nested_quantifiers_are_accepted_because_re2_runs_them_in_linear_time() -> None:
    config = parse_config(edited(lambda d: d["guardrails"]["deny_patterns"].append(
        {"name": "nested", "regex": "(a+)+$"})))
    assert config.guardrails.deny_patterns[-1].regex == "(a+)+$"


def test_yaml_syntax_error_names_the_line() -> None:
    message = error_of("tenants:\n  acme:\n    team: [payments\n")
    assert message.startswith("aigw.yaml:4:")
    assert "YAML syntax error" in message


def test_top_level_must_be_a_mapping_and_unreadable_file_is_named(tmp_path: Path) -> None:
    assert "expected a mapping" in error_of("- just\n- a list\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_default_config_prefers_env_then_local_file_then_demo(tmp_path: Path, monkeypatch) -> None:
    from gateway_shim.config.loader import default_config_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIGW_CONFIG", raising=False)
    assert default_config_path() == DEMO_CONFIG
    (tmp_path / "aigw.yaml").write_text(DEMO_TEXT)
    assert default_config_path() == Path("aigw.yaml")
    monkeypatch.setenv("AIGW_CONFIG", str(tmp_path / "other.yaml"))
    assert default_config_path() == tmp_path / "other.yaml"


def test_the_same_key_hash_under_two_tenants_is_rejected_naming_both() -> None:
    def share_key(document: dict) -> None:
        document["tenants"]["initech"]["api_keys"].append(
            {"name": "borrowed", "sha256": document["tenants"]["acme"]["api_keys"][0]["sha256"]})

    text = edited(share_key)
    message = error_of(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "borrowed" in row) + 1
    assert f"aigw.yaml:{line}: tenants.initech.api_keys.1.sha256:" in message
    assert "tenant 'acme'" in message and "tenants.acme.api_keys.0" in message


def test_apps_are_enforced_unless_the_tenant_opts_out() -> None:
    config = parse_config(edited(lambda d: d["tenants"]["initech"].update(enforce_apps=False)))
    assert config.tenants["acme"].enforce_apps is True
    assert config.tenants["initech"].enforce_apps is False


def test_load_tests_is_granted_per_key_as_a_plain_boolean() -> None:
    def revoke(document: dict) -> None:
        document["tenants"]["acme"]["api_keys"][0]["load_tests"] = False

    demo = parse_config(DEMO_TEXT)
    assert demo.tenants["acme"].api_keys[0].load_tests is True
    revoked = parse_config(edited(revoke))
    assert revoked.tenants["acme"].api_keys[0].load_tests is False
    assert revoked.policy_version != demo.policy_version
    # not granted: left out of the canonical document, so a document without the key keeps its version
    assert json.loads(revoked.canonical_json())["tenants"]["acme"]["api_keys"][0] == {
        "name": "demo-acme", "sha256": hashlib.sha256(b"demo-acme").hexdigest()}
    omitted = parse_config(edited(lambda d: d["tenants"]["acme"]["api_keys"][0].pop("load_tests")))
    assert omitted.policy_version == revoked.policy_version
    for wrong in ("yes please", 1):
        def grant(document: dict, value: object = wrong) -> None:
            document["tenants"]["acme"]["api_keys"][0]["load_tests"] = value

        message = error_of(edited(grant))
        assert "tenants.acme.api_keys.0.load_tests: Input should be a valid boolean" in message
