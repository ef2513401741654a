"""Session-wide fixtures: a real S3-compatible server (moto in server mode) and a private redis-server,
each on a free local port."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import MotoS3Server, RedisServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # in case moto ever runs in-process


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3Server]:
    """moto S3 in its own process: ``.endpoint_url``, ``.env`` (AWS_* vars), ``.make_bucket(name)``."""
    server = MotoS3Server(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pipeline runs record into this session's Dagster instance, never into the checkout's ./.aigw."""
    home = tmp_path_factory.mktemp("dagster_home")
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        yield home
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own that it may kill and restart: append-only, it keeps its data."""
    server = RedisServer(log_path=tmp_path / "redis.log", aof_dir=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own without persistence: FLUSHALL or a restart empties it."""
    server = RedisServer(log_path=tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """``redis-server --save '' --appendonly no`` on 127.0.0.1; each test uses its own key prefix."""
    server = RedisServer(log_path=tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
