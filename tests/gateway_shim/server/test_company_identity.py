"""Company identity end to end: a local identity provider (JWKS over HTTP), `aigw serve` configured to
trust it, and the official openai SDK calling with a signed JWT as its API key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import openai
import pytest

from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, JwksServer, new_key
from tests.gateway_shim.server.stack import (
    TEST_CONFIG,
    GatewayProcess,
    ProviderProcess,
    call,
    chat,
    start_gateway,
)

pytestmark = pytest.mark.slow
MIN_REFRESH_S = 2.0
RECOVERY_S = 4 * MIN_REFRESH_S  # a fetch may time out on a loaded machine; the next one must succeed


def identity_config(jwks_url: str) -> str:
    return TEST_CONFIG.read_text() + f"""
identity:
  oidc:
    issuer: {ISSUER}
    audience: {AUDIENCE}
    jwks_url: {jwks_url}
    algorithms: [RS256, ES256]
    max_clock_skew_s: 30
    jwks_min_refresh_interval_s: {MIN_REFRESH_S}
    jwks_fetch_timeout_s: 2
    claims: {{tenant: org, team: dept, app: azp, user: email}}
    tenants: {{payments: acme, frugal: tiny}}
"""


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdentityProvider, JwksServer]]:
    provider = IdentityProvider([new_key("rsa-1", "RS256"), new_key("ec-1", "ES256")])
    server = JwksServer(provider)
    try:
        yield provider, server
    finally:
        server.close()


@pytest.fixture(scope="module")
def gateway_with_identity(tmp_path_factory: pytest.TempPathFactory, provider: ProviderProcess,
                          idp: tuple[IdentityProvider, JwksServer]) -> Iterator[GatewayProcess]:
    running = start_gateway(tmp_path_factory.mktemp("identity"), provider,
                            config_text=identity_config(idp[1].url), gateway_id="identity-gw")
    try:
        yield running
    finally:
        running.stop()


def sdk(gateway: GatewayProcess, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0, timeout=20)


def test_the_openai_sdk_calls_with_a_company_token(gateway_with_identity: GatewayProcess,
                                                   idp: tuple[IdentityProvider, JwksServer]) -> None:
    provider, _ = idp
    for key in provider.published:
        with sdk(gateway_with_identity, provider.token(key, org="payments")) as client:
            completion = client.chat.completions.create(
                model="auto", max_tokens=8, messages=[{"role": "user", "content": "hello"}])
        assert completion.choices[0].message.content
    models = call(f"{gateway_with_identity.url}/v1/models", key=provider.token(org="frugal"))
    assert models.status == 200 and models.json()["data"]
    assert call(f"{gateway_with_identity.url}/v1/chat/completions", chat(), key="demo-acme").status == 200


def _refusal(gateway: GatewayProcess, token: str) -> dict[str, Any]:
    with sdk(gateway, token) as client, pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="auto", max_tokens=8,
                                       messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    body = info.value.body
    assert isinstance(body, dict)
    return body


def test_bad_tokens_get_401_naming_the_reason(gateway_with_identity: GatewayProcess,
                                              idp: tuple[IdentityProvider, JwksServer]) -> None:
    provider, _ = idp
    rsa = provider.published[0]
    now = time.time()
    cases = {
        "token_expired": provider.token(org="payments", now=now - 3600),
        "token_not_yet_valid": provider.token(org="payments", nbf=int(now + 600)),
        "invalid_audience": provider.token(org="payments", aud="someone-else"),
        "unknown_issuer": provider.token(org="payments", iss="https://evil.example/"),
        "unknown_tenant": provider.token(org="marketing"),
        "missing_claim": provider.token(),
        "invalid_signature": provider.token(new_key("rsa-1"), org="payments"),
        "unsupported_algorithm": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(now) + 60,
                                             "org": "payments"}, "x" * 32, algorithm="HS256",
                                            headers={"kid": rsa.kid}),
        "invalid_token": "eyJhbGciOi.not-base64!.x",
    }
    for code, token in cases.items():
        body = _refusal(gateway_with_identity, token)
        assert body["code"] == code, (code, body)
        assert body["type"] == "authentication_error" and body["message"]
        raw = call(f"{gateway_with_identity.url}/v1/chat/completions", chat(), key=token)
        assert raw.status == 401 and raw.json()["error"]["code"] == code
        assert call(f"{gateway_with_identity.url}/v1/models", key=token).status == 401


def _after_refresh_window(server: JwksServer) -> None:
    time.sleep(max(0.0, MIN_REFRESH_S - (time.monotonic() - server.last_fetch)) + 0.1)


def test_a_rotated_key_is_fetched_on_first_use(gateway_with_identity: GatewayProcess,
                                              idp: tuple[IdentityProvider, JwksServer]) -> None:
    provider, server = idp
    rotated = new_key("rsa-2026", "RS256")
    provider.published.append(rotated)
    try:
        _after_refresh_window(server)
        before = server.fetches
        answer = call(f"{gateway_with_identity.url}/v1/chat/completions", chat(),
                      key=provider.token(rotated, org="payments"))
        assert answer.status == 200, answer.body
        assert server.fetches == before + 1
    finally:
        provider.published.remove(rotated)


def test_unknown_key_ids_refetch_at_a_bounded_rate(gateway_with_identity: GatewayProcess,
                                                   idp: tuple[IdentityProvider, JwksServer]) -> None:
    provider, server = idp
    _after_refresh_window(server)
    before = server.fetches
    started = time.monotonic()
    for _ in range(25):
        stranger = new_key(f"made-up-{uuid.uuid4().hex[:8]}", "ES256")
        answer = call(f"{gateway_with_identity.url}/v1/chat/completions", chat(),
                      key=provider.token(stranger, org="payments"))
        assert answer.status == 401 and answer.json()["error"]["code"] == "unknown_signing_key"
    elapsed = time.monotonic() - started
    assert 1 <= server.fetches - before <= 1 + int(elapsed / MIN_REFRESH_S)


def test_events_carry_the_token_s_tenant_team_app_and_user(tmp_path: Path, provider: ProviderProcess,
                                                          idp: tuple[IdentityProvider, JwksServer]) -> None:
    identity, server = idp
    gateway = start_gateway(tmp_path, provider, config_text=identity_config(server.url), gateway_id="id-ev")
    try:
        token = identity.token(org="payments", dept="risk", azp="fraud-bot", email="ann@example.com")
        with sdk(gateway, token) as client:
            client.chat.completions.create(model="auto", max_tokens=8, extra_headers={"x-aigw-app": "spoof"},
                                           messages=[{"role": "user", "content": "hello"}])
        expired = identity.token(org="payments", now=time.time() - 3600)
        assert call(f"{gateway.url}/v1/chat/completions", chat(), key=expired).status == 401
    finally:
        assert gateway.stop() == 0
    events = gateway.events()
    served = [e for e in events if e["status_code"] == 200]
    refused = [e for e in events if e["status_code"] == 401]
    assert [(e["tenant_id"], e["team"], e["app_id"], e["user_id"]) for e in served] == \
        [("acme", "risk", "fraud-bot", "ann@example.com")]
    assert [(e["tenant_id"], e["error_type"], e["outcome"]) for e in refused] == \
        [(None, "token_expired", "client_error")]


def test_an_unreachable_identity_provider_does_not_stop_the_gateway(tmp_path: Path,
                                                                   provider: ProviderProcess) -> None:
    identity = IdentityProvider([new_key("ec-9", "ES256")])
    down = JwksServer(identity)
    down.fail = True
    try:
        gateway = start_gateway(tmp_path, provider, config_text=identity_config(down.url),
                                gateway_id="id-down")
        try:
            answer = call(f"{gateway.url}/v1/chat/completions", chat(), key=identity.token(org="payments"))
            assert answer.status == 401 and answer.json()["error"]["code"] == "unknown_signing_key"
            assert call(f"{gateway.url}/v1/chat/completions", chat(), key="demo-acme").status == 200
            down.fail = False
            deadline = time.monotonic() + RECOVERY_S  # the next fetches at the bounded rate load the keys
            while True:
                _after_refresh_window(down)
                token = identity.token(org="payments")
                answer = call(f"{gateway.url}/v1/chat/completions", chat(), key=token)
                if answer.status == 200 or time.monotonic() > deadline:
                    break
            assert answer.status == 200, answer.body
        finally:
            gateway.stop()
        assert "identity keys not loaded" in gateway.log.read_text()
    finally:
        down.close()


def test_boto3_converse_with_a_company_token(gateway_with_identity: GatewayProcess,
                                             idp: tuple[IdentityProvider, JwksServer],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    provider, _ = idp
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def converse(token: str) -> Any:
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", token)
        client = boto3.client("bedrock-runtime", region_name="us-east-1",
                              endpoint_url=gateway_with_identity.tls_url,
                              verify=str(gateway_with_identity.ca_file),
                              config=Config(retries={"total_max_attempts": 1}))
        try:
            return client.converse(modelId="anthropic.claude-3-5-haiku-v1", inferenceConfig={"maxTokens": 8},
                                   messages=[{"role": "user", "content": [{"text": "hello"}]}])
        finally:
            client.close()

    answer = converse(provider.token(provider.published[1], org="payments"))
    assert answer["output"]["message"]["content"][0]["text"]
    with pytest.raises(ClientError) as info:
        converse(provider.token(org="payments", aud="someone-else"))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert "audience" in info.value.response["Error"]["Message"]
