"""A real gateway for the tests: `aigw provider` + `aigw serve` subprocesses on free ports, lake in tmp.

``provider`` and ``gateway`` are shared by the whole server suite; a test that must stop its gateway
(SIGTERM, lake read-back) starts its own with ``stack.start_gateway``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_shim.server.stack import GatewayProcess, ProviderProcess, start_gateway, start_provider


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    running = start_provider(tmp_path_factory.mktemp("provider"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, provider: ProviderProcess) -> Iterator[GatewayProcess]:
    running = start_gateway(tmp_path_factory.mktemp("gateway"), provider)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def faults(provider: ProviderProcess) -> Iterator[ProviderProcess]:
    """The provider, with every injected fault cleared after the test."""
    try:
        yield provider
    finally:
        provider.clear_faults()
