"""The ``state`` section: memory by default, redis with a URL, leases longer than any lane's timeout."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gateway_shim.config import ConfigError, load_config, parse_config
from gateway_shim.config.loader import DEMO_CONFIG

DEMO_TEXT = DEMO_CONFIG.read_text()


def with_state(state: dict[str, Any]) -> str:
    document = yaml.safe_load(DEMO_TEXT)
    document["state"] = state
    return yaml.safe_dump(document, sort_keys=False)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "aigw.yaml")
    return str(info.value)


def test_memory_is_the_default_and_leaves_the_policy_version_unchanged() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.state.backend == "memory"
    explicit = parse_config(with_state({"backend": "memory"}), "aigw.yaml")
    assert explicit.policy_version == config.policy_version


def test_a_redis_section_loads_and_is_part_of_the_version() -> None:
    config = parse_config(with_state({"backend": "redis", "url": "redis://10.0.0.5:6379/2",
                                      "key_prefix": "prod:", "on_unavailable": "refuse", "replicas": 3,
                                      "lease_s": 900}), "aigw.yaml")
    assert (config.state.url, config.state.replicas, config.state.on_unavailable) == (
        "redis://10.0.0.5:6379/2", 3, "refuse")
    assert config.policy_version != load_config(DEMO_CONFIG).policy_version


def test_redis_without_a_url_or_with_a_bad_one_is_named() -> None:
    message = error_of(with_state({"backend": "redis"}))
    assert "state: backend 'redis' needs a url (redis://host:port/db)" in message
    message = error_of(with_state({"backend": "redis", "url": "http://cache:6379"}))
    assert "state.url" in message and "not a Redis URL" in message


def test_unknown_choices_and_keys_are_named() -> None:
    assert "state.on_unavailable" in error_of(with_state({"on_unavailable": "guess"}))
    assert "state.replica: unknown key" in error_of(with_state({"replica": 3}))
    assert "state.replicas" in error_of(with_state({"replicas": 0}))


def test_a_lease_shorter_than_the_longest_lane_timeout_is_refused() -> None:
    message = error_of(with_state({"lease_s": 60}))
    assert "state.lease_s: 60 s must exceed the longest lane timeout_s (120 s)" in message
