from __future__ import annotations

import pytest

from gateway_shim.config import load_config
from gateway_shim.simulate.incidents import build_schedule
from gateway_shim.simulate.scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    check_against,
    load_scenario,
    parse_at,
    parse_duration,
    parse_scenario,
)
from gateway_shim.simulate.tenant_keys import tenant_keys

from .conftest import MONTH_START


def default_text() -> str:
    return DEFAULT_SCENARIO.read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_default_scenario_is_valid_against_the_demo_config() -> None:
    loaded = load_scenario()
    check_against(loaded, load_config())
    kinds = {incident.kind for incident in loaded.scenario.incidents}
    assert kinds == {"provider_degradation", "model_outage", "policy_change", "prompt_rollout",
                     "traffic_surge", "rate_limit_storm", "price_change"}
    assert {s.tenant for s in loaded.scenario.streams} == {"acme", "globex", "initech"}
    assert any(not s.workflow for s in loaded.scenario.streams)


@pytest.mark.parametrize(("text", "seconds"), [("day 1", 0.0), ("day 2 13:30", 86_400 + 13.5 * 3600)])
def test_times_are_relative_to_the_start(text: str, seconds: float) -> None:
    assert parse_at(text) == seconds


@pytest.mark.parametrize(("text", "seconds"),
                         [("4h", 14_400), ("90m", 5_400), ("1h30m", 5_400), ("2d", 172_800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_errors_name_the_file_the_key_and_its_line() -> None:
    text = default_text().replace("error_rate: 0.4\n", "error_rate: 1.3\n").replace(
        "requests_per_hour: 60", "requests_per_hour: 60\n    bogus: 1")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "my.yaml")
    message = str(caught.value)
    assert f"my.yaml:{line_of(text, 'error_rate: 1.3')}: incidents.0.error_rate:" in message
    assert f"my.yaml:{line_of(text, 'bogus: 1')}: incidents.2.bogus: unknown key" in message


def test_bad_time_and_unknown_stream_are_named() -> None:
    text = default_text().replace("at: day 17 10:00", "at: day 0 10:00")
    with pytest.raises(ScenarioError, match=r"incidents\.4\.at: 'day 0 10:00' is not a valid time"):
        parse_scenario(text, "x.yaml")
    text = default_text().replace("stream: globex-kb", "stream: nope")
    with pytest.raises(ScenarioError, match=r"incidents\.4\.stream: unknown stream 'nope'"):
        parse_scenario(text, "x.yaml")


def test_yaml_syntax_errors_give_the_line() -> None:
    with pytest.raises(ScenarioError, match=r"^x\.yaml:\d+:\d+: YAML syntax error"):
        parse_scenario("name: a\nstreams: [\n", "x.yaml")


def test_references_are_checked_against_the_config() -> None:
    text = default_text().replace("tenant: globex\n    app: support-desk",
                                  "tenant: hooli\n    app: support-desk")
    loaded = parse_scenario(text, "x.yaml")
    with pytest.raises(ScenarioError) as caught:
        check_against(loaded, load_config())
    line = line_of(text, "tenant: hooli")
    assert f"x.yaml:{line}: streams.3.tenant: unknown tenant 'hooli'" in str(caught.value)


def test_a_wrong_api_key_is_refused_before_running() -> None:
    loaded = parse_scenario(default_text() + "api_keys: {acme: not-the-key}\n", "x.yaml")
    with pytest.raises(ScenarioError, match=r"api_keys\.acme: the given key does not match"):
        tenant_keys(loaded, load_config())


def test_an_invalid_policy_patch_fails_before_the_first_request() -> None:
    first_target = "- bedrock/anthropic.claude-3-5-haiku-v1\n            - bedrock/anthropic.claude-3-7"
    text = default_text().replace(first_target, first_target.replace("bedrock/", "nowhere/", 1))
    loaded = parse_scenario(text, "x.yaml")
    with pytest.raises(ScenarioError, match=r"incidents\.3\.patch.*unknown provider 'nowhere'"):
        build_schedule(loaded, load_config(), MONTH_START, 30)


def test_incidents_after_the_window_are_reported_not_run() -> None:
    schedule = build_schedule(load_scenario(), load_config(), MONTH_START, 3)
    assert schedule.actions == []
    assert all("not simulated" in n.detail or n.when is None for n in schedule.notes)
    assert len(schedule.configs) == 1


def test_a_degradation_names_a_model_or_a_provider_not_both() -> None:
    both = "    provider: bedrock\n    model: gpt-4o-mini\n"
    text = default_text().replace("    provider: bedrock\n", both)
    with pytest.raises(ScenarioError, match=r"incidents\.0: give either model or provider"):
        parse_scenario(text, "x.yaml")


def test_a_provider_degradation_covers_every_model_routed_to_it() -> None:
    schedule = build_schedule(load_scenario(), load_config(), MONTH_START, 30)
    degraded = {a.model for a in schedule.actions if a.kind == "fault_on" and a.fault and not a.fault.outage}
    assert degraded == {"amazon.nova-lite-v1", "amazon.titan-embed-text-v2", "amazon.titan-text-express-v1",
                        "anthropic.claude-3-5-haiku-v1", "anthropic.claude-3-7-sonnet-v1",
                        "meta.llama3-1-70b-instruct-v1"}


def test_api_keys_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_KEY", "demo-acme")
    loaded = parse_scenario(default_text() + "api_keys: {acme: 'env:ACME_KEY'}\n", "x.yaml")
    assert tenant_keys(loaded, load_config())["acme"] == "demo-acme"
    monkeypatch.setenv("ACME_KEY", "wrong")
    with pytest.raises(ScenarioError, match=r"api_keys\.acme"):
        tenant_keys(loaded, load_config())


def test_an_embeddings_stream_offers_no_tools() -> None:
    embeddings = "    operation: embeddings\n"
    text = default_text().replace(embeddings, embeddings + "    tools: true\n")
    with pytest.raises(ScenarioError, match=r"x\.yaml:\d+: streams\.\d+: tools: true is for chat streams"):
        parse_scenario(text, "x.yaml")
