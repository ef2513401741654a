from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from gateway_shim.config.models import Oidc
from gateway_shim.policy.callers import AuthFailure, Caller
from gateway_shim.policy.jwt_identity import CACHE_LIMIT, JwtVerifier
from gateway_shim.policy.signing_keys import parse_jwks
from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, new_key

NOW = 1_795_600_000.0
RSA = new_key("rsa-1", "RS256")
EC = new_key("ec-1", "ES256")
IDP = IdentityProvider([RSA, EC])


def settings(**overrides: Any) -> Oidc:
    return Oidc.model_validate({
        "issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://login.example.test/jwks.json",
        "max_clock_skew_s": 30,
        "claims": {"tenant": "org", "team": "dept", "app": "azp", "user": "email"},
        "tenants": {"payments": "acme", "support": "globex", "search": "initech"}, **overrides})


def verifier(**overrides: Any) -> JwtVerifier:
    checker = JwtVerifier(settings(**overrides), {"acme", "globex", "initech"})
    checker.use_keys(parse_jwks(IDP.jwks(), checker.settings.algorithms))
    return checker


def token(key: Any = RSA, **claims: Any) -> str:
    return IDP.token(key, now=NOW, **{"org": "payments", **claims})


def failure(result: Caller | AuthFailure) -> str:
    assert isinstance(result, AuthFailure), result
    return result.code


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
def test_a_good_token_maps_its_claims_to_the_caller(key: Any) -> None:
    signed = token(key, dept="risk", azp="fraud-bot", email="ann@example.com")
    assert verifier().verify(signed, NOW) == Caller("acme", "risk", "fraud-bot", "ann@example.com")


def test_unmapped_optional_claims_stay_empty_so_headers_and_the_tenant_decide() -> None:
    assert verifier().verify(token(org="support"), NOW) == Caller("globex", None, None, None)


def test_without_a_tenant_map_the_claim_value_is_the_tenant_id() -> None:
    assert verifier(tenants=None).verify(token(org="initech"), NOW) == Caller("initech")
    assert failure(verifier(tenants=None).verify(token(org="payments"), NOW)) == "unknown_tenant"


def test_list_and_nested_claims() -> None:
    nested = verifier(claims={"tenant": "realm.groups", "user": "sub"})
    assert nested.verify(token(realm={"groups": ["staff", "search"]}), NOW) == Caller("initech",
                                                                                       user_id="user-1")
    assert failure(nested.verify(token(realm={"groups": ["payments", "search"]}), NOW)) == "ambiguous_tenant"
    assert failure(nested.verify(token(realm={"groups": ["staff"]}), NOW)) == "unknown_tenant"


def test_a_claim_name_with_dots_is_taken_literally_first() -> None:
    namespaced = verifier(claims={"tenant": "https://corp.example/tenant"})
    signed = token(**{"https://corp.example/tenant": "support"})
    assert namespaced.verify(signed, NOW) == Caller("globex", user_id="user-1")  # user: sub by default


@pytest.mark.parametrize(("at", "code"), [
    (NOW + 300 + 29, None),              # 29 s past exp: within the 30 s skew
    (NOW + 300 + 30, "token_expired"),
    (NOW - 29, None),                    # issued 29 s "in the future" (a clock behind): within skew
    (NOW - 31, "token_not_yet_valid"),
])
def test_expiry_and_issued_at_are_judged_with_the_bounded_skew(at: float, code: str | None) -> None:
    result = verifier().verify(token(), at)
    if code is None:
        assert isinstance(result, Caller)
    else:
        assert failure(result) == code
        assert isinstance(result, AuthFailure) and "s" in result.message


def test_not_before_is_enforced() -> None:
    early = token(nbf=int(NOW + 120))
    assert failure(verifier().verify(early, NOW)) == "token_not_yet_valid"
    assert isinstance(verifier().verify(early, NOW + 100), Caller)


@pytest.mark.parametrize(("claims", "code"), [
    ({"aud": "someone-else"}, "invalid_audience"),
    ({"aud": None}, "missing_claim"),
    ({"iss": "https://evil.example/"}, "unknown_issuer"),
    ({"iss": None}, "unknown_issuer"),
    ({"exp": None}, "missing_claim"),
    ({"exp": "tomorrow"}, "invalid_token"),
    ({"org": None}, "missing_claim"),
    ({"org": "marketing"}, "unknown_tenant"),
])
def test_bad_claims_are_refused_with_their_reason(claims: dict[str, Any], code: str) -> None:
    assert failure(verifier().verify(token(**claims), NOW)) == code


def test_an_audience_list_needs_one_match() -> None:
    assert isinstance(verifier().verify(token(aud=["other", AUDIENCE]), NOW), Caller)
    assert isinstance(verifier(audience=["x", AUDIENCE]).verify(token(), NOW), Caller)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_and_hmac_are_refused_even_with_the_public_key_as_secret() -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 60, "org": "payments"}
    unsigned = f"{_b64({'alg': 'none', 'kid': 'rsa-1'})}.{_b64(claims)}."
    assert failure(verifier().verify(unsigned, NOW)) == "unsupported_algorithm"
    public_pem = RSA.public_jwk()["n"].encode()
    confused = jwt.encode(claims, public_pem, algorithm="HS256", headers={"kid": "rsa-1"})
    assert failure(verifier().verify(confused, NOW)) == "unsupported_algorithm"


def test_a_token_cannot_borrow_a_key_of_another_algorithm() -> None:
    other = new_key("ec-1", "RS256")  # claims the EC key's id but signs with RSA
    assert failure(verifier().verify(token(other), NOW)) == "unknown_signing_key"


def test_a_tampered_payload_or_foreign_key_fails_the_signature() -> None:
    head, _, signature = token().split(".")
    forged = f"{head}.{_b64({'iss': ISSUER, 'aud': AUDIENCE, 'exp': NOW + 60, 'org': 'search'})}.{signature}"
    assert failure(verifier().verify(forged, NOW)) == "invalid_signature"
    impostor = new_key("rsa-1", "RS256")
    assert failure(verifier().verify(token(impostor), NOW)) == "invalid_signature"


@pytest.mark.parametrize("credential", ["a.b.c", "..", "eyJ.eyJ.x", "é.é.é", f"{_b64({'alg': 'RS256'})}.e30"])
def test_garbage_is_an_invalid_token_not_an_exception(credential: str) -> None:
    result = verifier().verify(credential, NOW)
    assert isinstance(result, AuthFailure) and result.code in ("invalid_token", "unknown_issuer")


def test_unknown_key_ids_are_reported_for_fetching() -> None:
    stranger = new_key("rsa-2", "RS256")
    signed = token(stranger)
    checker = verifier()
    assert checker.missing_key(signed) == "rsa-2"
    assert failure(checker.verify(signed, NOW)) == "unknown_signing_key"
    assert checker.missing_key(token()) is None and checker.missing_key("demo-acme") is None
    checker.use_keys(parse_jwks(IdentityProvider([RSA, stranger]).jwks(), ["RS256"]))
    assert checker.missing_key(signed) is None
    assert isinstance(checker.verify(signed, NOW), Caller)


def test_verified_tokens_are_cached_until_expiry_and_dropped_when_keys_change() -> None:
    checker = verifier()
    signed = token()
    first = checker.verify(signed, NOW)
    assert checker.verify(signed, NOW + 10) is first  # the cached caller, no second signature check
    assert failure(checker.verify(signed, NOW + 300 + 30)) == "token_expired"
    fresh = token(jti="2")
    assert isinstance(checker.verify(fresh, NOW), Caller)
    assert not checker.use_keys(parse_jwks(IDP.jwks(), ["RS256", "ES256"]))  # same keys: cache kept
    checker.use_keys(parse_jwks(IdentityProvider([EC]).jwks(), ["RS256", "ES256"]))  # RSA withdrawn
    assert failure(checker.verify(fresh, NOW)) == "unknown_signing_key"


def test_the_cache_stays_bounded() -> None:
    checker = verifier()
    signed = token()
    assert isinstance(checker.verify(signed, NOW), Caller)
    checker._verified.update({f"t{i}": (Caller("acme"), NOW - 1000) for i in range(CACHE_LIMIT)})
    assert isinstance(checker.verify(token(jti="x"), NOW), Caller)
    assert len(checker._verified) == 2  # the stale entries went, the live ones stayed
