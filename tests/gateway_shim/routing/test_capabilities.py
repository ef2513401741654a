"""Each target's wire, capabilities and context window: the shipped catalog, per-target overrides, and
which needs a target serves."""

from __future__ import annotations

from gateway_shim.config.models import Capabilities, Provider
from gateway_shim.routing.capabilities import catalog_entry, make_target, missing, serves

BEDROCK = Provider(kind="bedrock", region="us-east-1")
OPENAI = Provider(kind="openai", unknown_fields="refuse")
SIMULATED = Provider(kind="simulated")


def test_the_catalog_knows_model_families_whatever_the_region_prefix_or_version() -> None:
    sonnet = catalog_entry("us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert sonnet is not None and sonnet.capabilities == {"tools", "vision", "json_schema"}
    titan = catalog_entry("amazon.titan-text-express-v1")
    assert titan is not None and titan.capabilities == frozenset() and titan.context_window == 8_192
    assert catalog_entry("my-finetune-7b") is None


def test_targets_take_their_wire_from_the_provider_and_overrides_from_the_config() -> None:
    titan = make_target(
        "br", BEDROCK, "amazon.titan-text-express-v1", Capabilities(tools=True, context_window=4096)
    )
    assert (titan.wire, titan.capabilities, titan.context_window) == ("converse", frozenset({"tools"}), 4096)
    unknown = make_target("sim", SIMULATED, "my-finetune-7b", None)
    assert (unknown.wire, unknown.capabilities, unknown.forwards_unknown) == ("openai", None, True)
    declared = make_target("sim", SIMULATED, "my-finetune-7b", Capabilities(vision=False))
    assert declared.capabilities == {"tools", "json_schema"}
    assert make_target("oa", OPENAI, "gpt-4o-mini", None).forwards_unknown is False


def test_which_needs_a_target_serves() -> None:
    titan = make_target("br", BEDROCK, "amazon.titan-text-express-v1", None)
    gpt = make_target("oa", OPENAI, "gpt-4o-mini", None)
    anything = make_target("sim", SIMULATED, "my-finetune-7b", None)
    assert not serves(titan, "tools") and serves(gpt, "tools") and serves(anything, "vision")
    assert serves(titan, "converse:guardrailConfig") and not serves(gpt, "converse:guardrailConfig")
    assert serves(gpt, "openai:seed") and not serves(titan, "openai:seed")
    assert serves(anything, "unknown:x") and not serves(gpt, "unknown:x") and not serves(titan, "unknown:x")
    assert missing(titan, ("tools", "converse:x"), 10_000) == [
        "tools",
        "context window (10000 tokens > 8192)",
    ]
    assert missing(gpt, ("tools", "vision"), 10_000) == []
