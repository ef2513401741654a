from __future__ import annotations

import asyncio

import pytest

from gateway_shim.config import load_config
from gateway_shim.config.models import Config
from gateway_shim.upstream.bedrock import BedrockClient
from gateway_shim.upstream.openai_compat import OpenAICompatClient
from gateway_shim.upstream.registry import ProviderConfigError, build_clients


def _with_providers(providers: dict[str, dict[str, object]]) -> Config:
    doc = load_config().model_dump(mode="json")
    doc["providers"] = providers
    first = next(iter(providers))
    for route in doc["routes"].values():
        route["targets"] = [{"provider": first, "model": t["model"]} for t in route["targets"]]
        if route.get("degrade") and route["degrade"].get("target"):
            route["degrade"]["target"]["provider"] = first
    doc["data_classes"] = {name: {**dc, "providers": ["*"]} for name, dc in doc["data_classes"].items()}
    return Config.model_validate(doc)


def test_demo_config_gives_one_shared_pool_of_simulated_clients() -> None:
    clients = build_clients(load_config())
    assert set(clients) == {"bedrock", "openai-compat", "selfhosted"}
    assert all(isinstance(c, OpenAICompatClient) for c in clients.values())
    pools = {id(c.http) for c in clients.values() if isinstance(c, OpenAICompatClient)}
    assert len(pools) == 1


def test_kinds_and_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _with_providers({
        "aws": {"kind": "bedrock", "region": "eu-west-1", "endpoint": "http://127.0.0.1:9"},
        "vllm": {"kind": "openai", "endpoint": "http://127.0.0.1:9/v1", "api_key_env": "AIGW_TEST_VLLM_KEY"},
    })
    with pytest.raises(ProviderConfigError, match=r"providers\.vllm: .*AIGW_TEST_VLLM_KEY"):
        build_clients(config)
    monkeypatch.setenv("AIGW_TEST_VLLM_KEY", "sk-test")
    clients = build_clients(config)
    assert isinstance(clients["aws"], BedrockClient)
    vllm = clients["vllm"]
    assert isinstance(vllm, OpenAICompatClient) and vllm.path == "/chat/completions"
    assert b"Authorization: Bearer sk-test\r\n" in vllm._headers
    for client in clients.values():
        asyncio.run(client.aclose())
