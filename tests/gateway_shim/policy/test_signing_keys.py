from __future__ import annotations

import json

import pytest
from jwt.algorithms import RSAAlgorithm

from gateway_shim.policy.signing_keys import JwksError, parse_jwks
from tests.gateway_shim.identity_provider import IdentityProvider, new_key

RSA = new_key("rsa-1", "RS256")
EC = new_key("ec-1", "ES256")


def test_public_keys_load_by_kid_and_find_checks_the_algorithm() -> None:
    keys = parse_jwks(IdentityProvider([RSA, EC]).jwks(), ["RS256", "ES256"])
    assert set(keys.by_kid) == {"rsa-1", "ec-1"} and keys.skipped == ()
    assert keys.find("rsa-1", "RS256") is not None
    assert keys.find("rsa-1", "ES256") is None
    assert keys.find("nope", "RS256") is None


def test_a_key_without_kid_is_found_only_when_it_is_the_only_one_of_its_algorithm() -> None:
    entry = {k: v for k, v in RSA.public_jwk().items() if k != "kid"}
    keys = parse_jwks({"keys": [entry, EC.public_jwk()]}, ["RS256", "ES256"])
    assert keys.find(None, "RS256") is not None
    two = parse_jwks({"keys": [entry, new_key("rsa-2").public_jwk()]}, ["RS256"])
    assert two.find(None, "RS256") is None


def test_unusable_entries_are_skipped_with_a_reason() -> None:
    private = {**json.loads(RSAAlgorithm.to_jwk(RSA.private)), "kid": "leaked"}
    document = {"keys": [
        RSA.public_jwk(), private, {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {**EC.public_jwk(), "use": "enc", "kid": "enc"}, EC.public_jwk(), "junk",
    ]}
    keys = parse_jwks(document, ["RS256"])
    assert set(keys.by_kid) == {"rsa-1"}
    reasons = " | ".join(keys.skipped)
    assert "'leaked'): holds private key material" in reasons
    assert "'hmac'): key type 'oct' is not RSA or EC" in reasons
    assert "'enc'): use 'enc' is not 'sig'" in reasons
    assert "'ec-1'): algorithm ES256 is not in identity.oidc.algorithms" in reasons
    assert "keys[5]: not an object" in reasons


@pytest.mark.parametrize(("document", "expected"), [
    ([], "not a JWKS document"),
    ({"keys": {}}, "not a JWKS document"),
    ({"keys": []}, "the document lists no keys"),
    ({"keys": [{"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}]}, "no usable signing key (keys[0]"),
])
def test_a_document_without_a_usable_key_is_an_error(document: object, expected: str) -> None:
    with pytest.raises(JwksError) as info:
        parse_jwks(document, ["RS256", "ES256"])
    assert expected in str(info.value)


def test_the_fingerprint_follows_the_keys() -> None:
    one = parse_jwks(IdentityProvider([RSA]).jwks(), ["RS256"])
    assert one.fingerprint == parse_jwks(IdentityProvider([RSA]).jwks(), ["RS256"]).fingerprint
    assert one.fingerprint != parse_jwks(IdentityProvider([RSA, new_key("r2")]).jwks(), ["RS256"]).fingerprint
