"""Only a caller granted ``load_tests`` may mark its traffic as load-test traffic (an ``lt-`` run id):
the rule alone, the callers keys and tokens give, and the core's refusal with its event."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from gateway_shim.config import parse_config
from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.policy.authentication import Authenticator
from gateway_shim.policy.callers import Caller
from gateway_shim.policy.load_tests import LOAD_TEST_NOT_ALLOWED, load_test_refusal, marks_load_test
from gateway_shim.policy.signing_keys import parse_jwks
from gateway_shim.types import Plan, Rejection, RequestContext
from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, new_key

RUN_ID = "lt-fallback-20261207T091500Z-abc123"
NOW = 1_795_600_000.0
IDP = IdentityProvider([new_key("k1", "ES256")])


@pytest.mark.parametrize(("run_id", "marked"), [
    (RUN_ID, True), ("lt-", True), ("lt-web-x", True),
    (None, False), ("nightly-7", False), ("LT-upper", False), (" lt-x", False), ("blt-1", False),
])
def test_the_prefix_alone_marks_load_test_traffic(run_id: str | None, marked: bool) -> None:
    assert marks_load_test(run_id) is marked


def test_a_caller_without_the_permission_may_not_send_an_lt_run_id() -> None:
    refusal = load_test_refusal(Caller("acme"), RUN_ID)
    assert refusal is not None
    assert f"run id {RUN_ID!r}" in refusal and "tenant 'acme'" in refusal and "load_tests: true" in refusal


@pytest.mark.parametrize("run_id", [None, "nightly-7", "sim-default-20261201-1d-seed7-x1"])
def test_other_run_ids_need_no_permission(run_id: str | None) -> None:
    assert load_test_refusal(Caller("acme"), run_id) is None


def test_a_granted_caller_may_send_one() -> None:
    assert load_test_refusal(Caller("acme", load_tests=True), RUN_ID) is None


def _config(grant_key: bool = False, oidc: dict[str, Any] | None = None) -> Config:
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    for tenant in document["tenants"].values():
        for key in tenant["api_keys"]:
            key.pop("load_tests", None)
    digest = hashlib.sha256(b"acme-loadtest").hexdigest()
    key = {"name": "acme-loadtest", "sha256": digest, "load_tests": grant_key}
    document["tenants"]["acme"]["api_keys"].append(key)
    if oidc is not None:
        document["identity"] = {"oidc": oidc}
    return parse_config(yaml.safe_dump(document))


def test_the_permission_belongs_to_the_key_not_to_its_tenant() -> None:
    auth = Authenticator(_config(grant_key=True).tenants)
    assert auth.identify("acme-loadtest", NOW) == Caller("acme", load_tests=True)
    assert auth.identify("demo-acme", NOW) == Caller("acme")


def _oidc(grant: dict[str, str] | None) -> dict[str, Any]:
    oidc: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://login.example.test/jwks",
                            "claims": {"tenant": "org"}, "tenants": {"payments": "acme"}}
    if grant is not None:
        oidc["load_tests"] = grant
    return oidc


@pytest.mark.parametrize(("grant", "claims", "allowed"), [
    ({"claim": "roles", "value": "aigw-load-tests"}, {"roles": ["reader", "aigw-load-tests"]}, True),
    ({"claim": "realm.role", "value": "aigw-load-tests"}, {"realm": {"role": "aigw-load-tests"}}, True),
    ({"claim": "roles", "value": "aigw-load-tests"}, {"roles": ["reader"]}, False),
    ({"claim": "roles", "value": "aigw-load-tests"}, {}, False),
    (None, {"roles": ["aigw-load-tests"]}, False),
])
def test_a_token_is_granted_by_the_configured_claim_only(grant: dict[str, str] | None, claims: dict[str, Any],
                                                         allowed: bool) -> None:
    config = _config(oidc=_oidc(grant))
    auth = Authenticator(config.tenants, config.identity.oidc)
    assert auth.jwt is not None
    auth.jwt.use_keys(parse_jwks(IDP.jwks(), ["ES256"]))
    caller = auth.identify(IDP.token(now=NOW, org="payments", **claims), NOW)
    assert caller == Caller("acme", user_id="user-1", load_tests=allowed)


def _ask(gw: Gateway, key: str) -> tuple[RequestContext, Plan | Rejection]:
    ctx = RequestContext(api_key=key, messages=[{"role": "user", "content": "hi"}],
                         received_at=int(NOW * 1e6), run_id=RUN_ID)
    return ctx, gw.admit(ctx, 0.0)


def test_the_core_refuses_with_403_and_keeps_the_run_id_out_of_the_event() -> None:
    events: list[dict[str, Any]] = []
    gw = Gateway(_config(grant_key=True), gateway_id="gw", emit=events.append)
    ctx, refused = _ask(gw, "demo-acme")
    assert isinstance(refused, Rejection)
    assert (refused.status, refused.code, refused.error_type) == (403, LOAD_TEST_NOT_ALLOWED,
                                                                  "permission_error")
    event = gw.reject(ctx, refused, 0.0)
    assert (event["tenant_id"], event["run_id"], event["error_type"]) == ("acme", "invalid",
                                                                          LOAD_TEST_NOT_ALLOWED)
    assert ctx.run_id == RUN_ID  # what the app asked for is refused, never rewritten
    _, granted = _ask(gw, "acme-loadtest")
    assert isinstance(granted, Plan)
    assert gw.finish(granted, status_code=200, now=0.0, input_tokens=1, output_tokens=1)["run_id"] == RUN_ID
