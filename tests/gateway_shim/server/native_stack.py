"""A gateway whose policy adds the native doors' targets to the suite's test policy: a ``bedrock``
provider (SigV4, dummy keys), OpenAI-compatible embeddings and a provider that retries, all served by
the test's provider (or a recording proxy in front of it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.gateway_shim.server.stack import TEST_CONFIG, GatewayProcess, ProviderProcess, start_gateway

CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
OPENAI_EMBEDDING = "text-embedding-3-small"
RETRY_MODEL = "retry-model"
OPENAI_ONLY = "gpt-4.1-nano"
"""On a provider of kind ``openai``: it speaks the OpenAI wire only (no InvokeModel)."""
"""Served by provider ``retrying`` (``max_retries: 2``), route ``retries`` (workflow ``retry-test``)."""
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_BEARER_TOKEN_BEDROCK": ""}


def native_config(bedrock_endpoint: str = "http://127.0.0.1:__PROVIDER_PORT__") -> str:
    config: dict[str, Any] = yaml.safe_load(TEST_CONFIG.read_text())
    config["providers"]["aws"] = {"kind": "bedrock", "endpoint": bedrock_endpoint, "region": "us-east-1",
                                  "timeout_s": 10}
    config["providers"]["retrying"] = {"kind": "simulated", "endpoint": "http://127.0.0.1:__PROVIDER_PORT__",
                                       "timeout_s": 10, "max_retries": 2, "retry_base_s": 0.05,
                                       "retry_max_s": 0.2}
    config["providers"]["openai-wire"] = {"kind": "openai", "endpoint": "http://127.0.0.1:__PROVIDER_PORT__/v1",
                                          "timeout_s": 10}
    config["data_classes"]["internal"]["providers"] += ["retrying", "openai-wire"]
    native_targets = [f"aws/{CLAUDE}", f"aws/{TITAN}", f"openai-compat/{OPENAI_EMBEDDING}",
                      f"openai-wire/{OPENAI_ONLY}"]
    config["routes"] = {"native": {"match": {"workflows": ["native-doors"]}, "targets": native_targets},
                        "retries": {"match": {"workflows": ["retry-test"]},
                                    "targets": [f"retrying/{RETRY_MODEL}", "openai-compat/gpt-4o-mini"]},
                        **config["routes"]}
    prices = ((CLAUDE, 0.8, 4.0), (TITAN, 0.02, 0.0), (OPENAI_EMBEDDING, 0.02, 0.0), (RETRY_MODEL, 0.1, 0.1),
              (OPENAI_ONLY, 0.1, 0.4))
    for model, input_price, output_price in prices:
        config["pricing"][model] = [{"effective_from": "2026-01-01", "input_per_mtok": input_price,
                                     "output_per_mtok": output_price}]
    config["data_classes"]["internal"]["providers"].append("aws")
    return yaml.safe_dump(config, sort_keys=False)


def start_native_gateway(tmp: Path, provider: ProviderProcess, *, bedrock_endpoint: str | None = None,
                         gateway_id: str = "native-gw") -> GatewayProcess:
    text = native_config(bedrock_endpoint) if bedrock_endpoint else native_config()
    return start_gateway(tmp, provider, gateway_id=gateway_id, config_text=text, env=AWS_ENV)
