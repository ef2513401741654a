"""A private redis-server for the shared-state tests, started once per session on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """``redis-server --save '' --appendonly no`` on 127.0.0.1; each test uses its own key prefix."""
    server = RedisServer(log_path=tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
