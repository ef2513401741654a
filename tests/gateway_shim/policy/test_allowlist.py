from __future__ import annotations

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.policy.allowlist import DataClassRule
from gateway_shim.types import Target

CONFIG = load_config(DEMO_CONFIG)


def rule(name: str) -> DataClassRule:
    return DataClassRule(name, CONFIG.data_classes[name])


def test_restricted_keeps_to_the_named_bedrock_models() -> None:
    restricted = rule("restricted")
    assert restricted.allows(Target("bedrock", "amazon.nova-lite-v1"))
    assert not restricted.allows(Target("bedrock", "meta.llama3-1-70b-instruct-v1"))
    assert not restricted.allows(Target("openai-compat", "gpt-4o-mini"))


def test_internal_allows_any_model_of_its_providers_and_public_allows_all() -> None:
    assert rule("internal").allows(Target("selfhosted", "mistral-7b-instruct"))
    assert not rule("internal").allows(Target("openai-compat", "gpt-4o-mini"))
    assert rule("public").allows(Target("openai-compat", "gpt-4o-mini"))


def test_the_rule_describes_itself_for_403_messages() -> None:
    assert rule("restricted").describe() == (
        "sensitivity 'restricted' allows providers [bedrock] models "
        "[amazon.nova-lite-v1, anthropic.claude-3-5-haiku-v1, anthropic.claude-3-7-sonnet-v1]"
    )
    assert rule("public").describe() == "sensitivity 'public' allows providers any"
