"""N `aigw serve` replicas sharing one private redis-server and one lake, each with its own spool and ports.

Used by the fleet tests (shared budgets, rate limits, Redis outages, killed replicas, policy reload).
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.gateway_shim.server.stack import Answer, GatewayProcess, ProviderProcess, call, chat, spawn_gateway
from tests.helpers import RedisServer

FLEET_CONFIG = Path(__file__).with_name("fleet_test.yaml")
NANOS = 1e9


def fleet_config(provider: ProviderProcess, redis_server: RedisServer, prefix: str,
                 on_unavailable: str = "local_share", template: str | None = None) -> str:
    text = template if template is not None else FLEET_CONFIG.read_text()
    return (text.replace("__PROVIDER_PORT__", str(provider.port)).replace("__REDIS_URL__", redis_server.url)
            .replace("__PREFIX__", prefix).replace("__ON_UNAVAILABLE__", on_unavailable))


def month_key(now: dt.datetime | None = None) -> int:
    moment = now or dt.datetime.now(dt.UTC)
    return moment.year * 12 + moment.month - 1


@dataclass
class Fleet:
    replicas: list[GatewayProcess]
    redis_server: RedisServer
    prefix: str
    folder: Path

    def chat(self, index: int, key: str, content: str = "hello", timeout: float = 20,
             **headers: str) -> Answer | None:
        """A chat request to replica ``index`` (modulo the fleet size); ``None`` if the connection broke."""
        replica = self.replicas[index % len(self.replicas)]
        try:
            return call(f"{replica.url}/v1/chat/completions", chat(content), key=key, timeout=timeout,
                        headers=headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def month(self, tenant: str) -> tuple[float, float]:
        """(spent, reserved) USD of ``tenant``'s current month, as Redis holds them."""
        client = redis.Redis.from_url(self.redis_server.url)
        try:
            spent, reserved = client.hmget(f"{self.prefix}b:{tenant}:{month_key()}", "s", "r")
        finally:
            client.close()
        return int(spent or 0) / NANOS, int(reserved or 0) / NANOS

    def metric(self, index: int, name: str) -> float | None:
        for line in self.replicas[index].metrics().splitlines():
            if line.startswith(f"{name} ") or line.startswith(f"{name}{{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def stop(self) -> list[int]:
        return [replica.stop() for replica in self.replicas]

    def events(self) -> list[dict[str, Any]]:
        """Every replica's events (they share the lake); call after ``stop`` flushed them."""
        return self.replicas[0].events()


def start_fleet(tmp: Path, provider: ProviderProcess, redis_server: RedisServer, *, replicas: int = 3,
                on_unavailable: str = "local_share", template: str | None = None) -> Fleet:
    """``replicas`` gateways started together (one lake folder, one spool each), healthy on return."""
    prefix = f"f{uuid.uuid4().hex[:8]}:"
    text = fleet_config(provider, redis_server, prefix, on_unavailable, template)
    lake = str(tmp / "lake")
    started = [spawn_gateway(tmp / f"gw{i}", provider, gateway_id=f"gw{i}", config_text=text, lake_url=lake)
               for i in range(replicas)]
    try:
        for replica in started:
            replica.wait_healthy(60)
    except Exception:
        for replica in started:
            replica.stop(5)
        raise
    return Fleet(started, redis_server, prefix, tmp)
