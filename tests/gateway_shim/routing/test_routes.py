from __future__ import annotations

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.routing.routes import RouteTable

CONFIG = load_config(DEMO_CONFIG)


def table() -> RouteTable:
    return RouteTable(CONFIG.routes, CONFIG.providers)


def test_workflow_routes_match_in_any_lane() -> None:
    routes = table()
    assert routes.select("support-summary", "interactive").name == "interactive-chat"
    assert routes.select("knowledge-bot", "batch").name == "interactive-chat"  # config order: first match
    assert routes.select("ai-search", "standard").name == "ai-search"


def test_lane_only_route_and_the_default() -> None:
    routes = table()
    assert routes.select("something-else", "batch").name == "batch"
    assert routes.select(None, "batch").name == "batch"
    assert routes.select("something-else", "interactive").name == "default"
    assert routes.select(None, "standard").name == "default"


def test_targets_are_shared_objects_with_the_providers_timeout() -> None:
    routes = table()
    chat = routes.select("support-summary", "interactive")
    default = routes.select(None, "standard")
    assert chat.targets[0] is default.targets[0]
    assert chat.targets[0].key == "bedrock/anthropic.claude-3-5-haiku-v1"
    assert chat.targets[0].timeout_s == 60
    assert chat.degrade_target is not None and chat.degrade_target.model == "amazon.nova-lite-v1"
    assert chat.degrade_max_output_tokens == 256
    assert set(routes.targets) >= {t.key for t in chat.targets}
