"""The JWKS adapter against a local identity provider: prefetch, fetch on an unknown key id at a bounded
rate, and a retry after a failed start without waiting for a token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway_shim.config.models import Oidc
from gateway_shim.policy.jwt_identity import JwtVerifier
from gateway_shim.server.jwks_fetcher import JwksFetcher
from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, JwksServer, new_key


@pytest.fixture
def idp() -> Iterator[tuple[IdentityProvider, JwksServer]]:
    provider = IdentityProvider([new_key("ec-1", "ES256")])
    server = JwksServer(provider)
    try:
        yield provider, server
    finally:
        server.close()


def settings(url: str) -> Oidc:
    return Oidc.model_validate({"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": url,
                                "claims": {"tenant": "org"}, "tenants": None,
                                "jwks_min_refresh_interval_s": 1, "jwks_fetch_timeout_s": 2})


def test_prefetch_then_fetch_an_unknown_key_id_once_per_interval(
        idp: tuple[IdentityProvider, JwksServer]) -> None:
    provider, server = idp
    oidc = settings(server.url)
    verifier = JwtVerifier(oidc, {"acme"})

    async def scenario() -> None:
        fetcher = JwksFetcher(oidc, lambda: verifier)
        assert await fetcher.start()
        try:
            assert server.fetches == 1 and set(verifier.keys.by_kid) == {"ec-1"}
            assert fetcher.waiter_for("demo-acme") is None
            assert fetcher.waiter_for(provider.token(org="acme")) is None
            rotated = new_key("ec-2", "ES256")
            provider.published.append(rotated)
            assert fetcher.waiter_for(provider.token(rotated, org="acme")) is None  # 1 s not yet over
            await asyncio.sleep(1.05)
            first = fetcher.waiter_for(provider.token(rotated, org="acme"))
            joined = fetcher.waiter_for(provider.token(rotated, org="acme", jti="other"))
            assert first is not None and joined is not None
            await asyncio.gather(first, joined)
            assert server.fetches == 2 and set(verifier.keys.by_kid) == {"ec-1", "ec-2"}
            stranger = new_key("nobody", "ES256")
            assert fetcher.waiter_for(provider.token(stranger, org="acme")) is None  # rate-bounded
            assert server.fetches == 2
        finally:
            await fetcher.aclose()

    asyncio.run(scenario())


def test_a_failed_start_is_retried_without_waiting_for_a_token(
        idp: tuple[IdentityProvider, JwksServer]) -> None:
    _, server = idp
    server.fail = True
    oidc = settings(server.url)
    verifier = JwtVerifier(oidc, {"acme"})

    async def scenario() -> None:
        fetcher = JwksFetcher(oidc, lambda: verifier)
        assert not await fetcher.start()
        try:
            server.fail = False
            for _ in range(60):  # bounded: the retry is due after the 1 s minimum interval
                if verifier.keys.by_kid:
                    break
                await asyncio.sleep(0.1)
            assert set(verifier.keys.by_kid) == {"ec-1"}
            assert fetcher.failures == 1
        finally:
            await fetcher.aclose()

    asyncio.run(scenario())


def test_after_a_reload_moves_the_jwks_url_the_keys_come_from_the_new_one(
        idp: tuple[IdentityProvider, JwksServer]) -> None:
    """The fetcher reads the current verifier (a policy reload swaps it), settings included."""
    _, server = idp
    moved = IdentityProvider([new_key("ec-9", "ES256")])
    other = JwksServer(moved)
    current = [JwtVerifier(settings(server.url), {"acme"})]

    async def scenario() -> None:
        fetcher = JwksFetcher(settings(server.url), lambda: current[0])
        assert await fetcher.start()
        try:
            assert set(current[0].keys.by_kid) == {"ec-1"}
            current[0] = JwtVerifier(settings(other.url), {"acme"})  # the reloaded policy's verifier
            assert fetcher.settings.jwks_url == other.url
            await asyncio.sleep(1.05)
            waiter = fetcher.waiter_for(moved.token(org="acme"))
            assert waiter is not None
            await waiter
            assert set(current[0].keys.by_kid) == {"ec-9"} and other.fetches == 1
        finally:
            await fetcher.aclose()

    try:
        asyncio.run(scenario())
    finally:
        other.close()
