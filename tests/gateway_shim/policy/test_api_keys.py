from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.policy import api_keys
from gateway_shim.policy.api_keys import KeyRing
from gateway_shim.policy.callers import Caller

CONFIG = load_config(DEMO_CONFIG)


def test_demo_keys_resolve_to_their_tenants() -> None:
    ring = KeyRing(CONFIG.tenants)
    assert [ring.caller_for(key) for key in ("demo-acme", "demo-globex", "demo-initech")] == [
        Caller(tenant, load_tests=True) for tenant in ("acme", "globex", "initech")]


@pytest.mark.parametrize("key", ["", "demo-acme ", "DEMO-ACME", "0ee3d7e3ae154954f584999ee8a2898c", "\udcff"])
def test_other_keys_resolve_to_no_tenant(key: str) -> None:
    assert KeyRing(CONFIG.tenants).caller_for(key) is None


def test_the_stored_hash_is_the_sha256_of_the_key() -> None:
    stored = CONFIG.tenants["acme"].api_keys[0].sha256
    assert stored == hashlib.sha256(b"demo-acme").hexdigest()


def test_every_stored_key_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", counting)
    ring = KeyRing(CONFIG.tenants)
    for key in ("demo-acme", "demo-initech", "nope"):
        calls.clear()
        ring.caller_for(key)
        assert len(calls) == 3
