"""Provider clients for a config: one `ProviderClient` per entry of `providers:`.

OpenAI-wire providers (kinds `simulated` and `openai`) share one pooled `HttpClient`, so providers
pointing at the same endpoint share its keep-alive connections.
"""

from __future__ import annotations

from gateway_shim.config.models import Config, Provider
from gateway_shim.upstream.base import ProviderClient
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.openai_compat import OpenAICompatClient, api_key_from_env

DEFAULT_ENDPOINTS = {"simulated": "http://127.0.0.1:9000", "openai": "https://api.openai.com/v1"}


class ProviderConfigError(ValueError):
    """A provider entry that cannot be turned into a client; the message names the provider."""


def build_client(name: str, provider: Provider, http: HttpClient) -> ProviderClient:
    try:
        if provider.kind == "bedrock":
            from gateway_shim.upstream.bedrock import BedrockClient  # boto3 is slow to import: only if used

            return BedrockClient(name, region=provider.region, endpoint_url=provider.endpoint,
                                 connect_timeout_s=provider.connect_timeout_s, timeout_s=provider.timeout_s)
        endpoint = provider.endpoint or DEFAULT_ENDPOINTS[provider.kind]
        return OpenAICompatClient(name, endpoint, http, api_key=api_key_from_env(provider.api_key_env),
                                  connect_timeout_s=provider.connect_timeout_s, timeout_s=provider.timeout_s)
    except ValueError as exc:
        raise ProviderConfigError(f"providers.{name}: {exc}") from None


def build_clients(config: Config, http: HttpClient | None = None) -> dict[str, ProviderClient]:
    """Clients by provider name. Call `aclose()` on each when done (the shared pool closes once)."""
    shared = http or HttpClient()
    return {name: build_client(name, provider, shared) for name, provider in config.providers.items()}
