"""API keys and company tokens side by side, alone and through the core's admission and event."""

from __future__ import annotations

from typing import Any

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.policy.authentication import Authenticator
from gateway_shim.policy.callers import AuthFailure, Caller
from gateway_shim.policy.signing_keys import parse_jwks
from gateway_shim.types import Plan, Rejection, RequestContext
from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, new_key

NOW = 1_795_600_000.0
IDP = IdentityProvider([new_key("k1", "ES256")])
OIDC = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://login.example.test/jwks.json",
        "claims": {"tenant": "org", "team": "dept", "app": "azp", "user": "email"},
        "tenants": {"payments": "acme", "support": "globex", "search": "initech"}}


def config(oidc: dict[str, Any] | None = OIDC) -> Config:
    document = load_config(DEMO_CONFIG).model_dump(mode="json")
    document["identity"] = {"oidc": oidc}
    return Config.model_validate(document)


def loaded(auth: Authenticator) -> Authenticator:
    assert auth.jwt is not None
    auth.jwt.use_keys(parse_jwks(IDP.jwks(), ["ES256"]))
    return auth


def test_api_keys_still_work_beside_tokens() -> None:
    cfg = config()
    auth = loaded(Authenticator(cfg.tenants, cfg.identity.oidc))
    assert auth.identify("demo-acme", NOW) == Caller("acme", load_tests=True)
    assert auth.identify(IDP.token(now=NOW, org="search"), NOW) == Caller("initech")
    assert auth.identify("not-a-key", NOW) == AuthFailure("invalid_api_key", "unknown API key")


def test_without_identity_a_token_is_just_an_unknown_key() -> None:
    cfg = config(None)
    auth = Authenticator(cfg.tenants, cfg.identity.oidc)
    assert auth.jwt is None
    result = auth.identify(IDP.token(now=NOW, org="search"), NOW)
    assert isinstance(result, AuthFailure) and result.code == "invalid_api_key"


def test_the_token_decides_tenant_team_app_and_user_in_the_event() -> None:
    events: list[dict[str, Any]] = []
    gw = Gateway(config(), gateway_id="gw", emit=events.append)
    loaded(gw.identity)
    signed = IDP.token(now=NOW, org="payments", dept="risk", azp="fraud-bot", email="ann@example.com")
    ctx = RequestContext(api_key=signed, messages=[{"role": "user", "content": "hi"}],
                         received_at=int(NOW * 1e6), app_id="header-app", user_id="header-user")
    plan = gw.admit(ctx, 0.0)
    assert isinstance(plan, Plan)
    event = gw.finish(plan, status_code=200, now=0.0, input_tokens=1, output_tokens=1)
    assert (event["tenant_id"], event["team"], event["app_id"], event["user_id"]) == \
        ("acme", "risk", "fraud-bot", "ann@example.com")
    assert gw.tenant_for_key(signed, int(NOW * 1e6)) == "acme"
    assert gw.available_models(signed, None, int(NOW * 1e6))


def test_a_refused_token_is_a_401_event_naming_the_reason() -> None:
    events: list[dict[str, Any]] = []
    gw = Gateway(config(), gateway_id="gw", emit=events.append)
    loaded(gw.identity)
    signed = IDP.token(now=NOW - 3600, org="payments")
    ctx = RequestContext(api_key=signed, messages=[{"role": "user", "content": "hi"}],
                         received_at=int(NOW * 1e6))
    rejection = gw.admit(ctx, 0.0)
    assert isinstance(rejection, Rejection)
    assert (rejection.status, rejection.code, rejection.error_type) == (401, "token_expired",
                                                                        "authentication_error")
    event = gw.reject(ctx, rejection, 0.0)
    assert (event["status_code"], event["error_type"], event["tenant_id"]) == (401, "token_expired", None)
    assert gw.tenant_for_key(signed, int(NOW * 1e6)) is None


def test_a_policy_reload_keeps_the_signing_keys() -> None:
    old = Gateway(config(), gateway_id="gw", emit=lambda e: None)
    loaded(old.identity)
    new = Gateway(config(), gateway_id="gw", emit=lambda e: None)
    new.take_over(old)
    assert new.identity.identify(IDP.token(now=NOW, org="support"), NOW) == Caller("globex")
    moved = Gateway(config({**OIDC, "jwks_url": "https://elsewhere.example/jwks"}), gateway_id="gw",
                    emit=lambda e: None)
    moved.take_over(old)
    refused = moved.identity.identify(IDP.token(now=NOW, org="support"), NOW)
    assert isinstance(refused, AuthFailure) and refused.code == "unknown_signing_key"
