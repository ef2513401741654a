"""The ``identity.oidc`` section: a usable document, and every mistake named with its key and line."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from gateway_shim.config import ConfigError, parse_config
from gateway_shim.config.loader import DEMO_CONFIG

DEMO = yaml.safe_load(DEMO_CONFIG.read_text())
OIDC = {"issuer": "https://login.example.test/", "audience": "aigw",
        "jwks_url": "https://login.example.test/.well-known/jwks.json",
        "claims": {"tenant": "org", "team": "dept", "app": "azp", "user": "email"},
        "tenants": {"payments": "acme", "support": "globex"}}


def with_identity(oidc: dict[str, Any], **tenant_edits: dict[str, Any]) -> str:
    document = yaml.safe_load(yaml.safe_dump(DEMO))
    document["identity"] = {"oidc": oidc}
    for tenant, edit in tenant_edits.items():
        document["tenants"][tenant].update(edit)
    return yaml.safe_dump(document, sort_keys=False)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "aigw.yaml")
    return str(info.value)


def test_a_full_section_loads_with_its_defaults() -> None:
    oidc = parse_config(with_identity(OIDC)).identity.oidc
    assert oidc is not None
    assert oidc.algorithms == ["RS256", "ES256"] and oidc.max_clock_skew_s == 60
    assert oidc.claims.user == "email" and oidc.tenants == {"payments": "acme", "support": "globex"}


def test_the_section_changes_the_policy_version_but_its_absence_keeps_the_old_one() -> None:
    plain = parse_config(DEMO_CONFIG.read_text())
    assert "identity" not in plain.canonical_json()
    assert parse_config(with_identity(OIDC)).policy_version != plain.policy_version


@pytest.mark.parametrize(("edit", "expected"), [
    ({"algorithms": ["RS256", "HS256"]}, "identity.oidc.algorithms: 'HS256' not accepted: only RS256, ES256"),
    ({"algorithms": ["none"]}, "'none' and HS* are refused"),
    ({"algorithms": []}, "identity.oidc.algorithms: List should have at least 1 item"),
    ({"jwks_url": "http://idp.example.test/jwks"}, "identity.oidc.jwks_url: must be https://"),
    ({"jwks_url": "jwks.json"}, "identity.oidc.jwks_url: 'jwks.json' is not a URL"),
    ({"max_clock_skew_s": 3600}, "identity.oidc.max_clock_skew_s: Input should be less than or equal to 300"),
    ({"audience": ""}, "identity.oidc.audience"),
    ({"tenants": {"payments": "nobody"}}, "identity.oidc.tenants.payments: unknown tenant 'nobody'"),
    ({"claims": {"team": "dept"}}, "identity.oidc.claims.tenant: Field required"),
    ({"issuer_url": "x"}, "identity.oidc.issuer_url: unknown key"),
])
def test_mistakes_are_named_with_the_key(edit: dict[str, Any], expected: str) -> None:
    message = error_of(with_identity({**OIDC, **edit}))
    assert expected in message
    assert "aigw.yaml:" in message


def test_loopback_http_is_allowed_for_a_local_identity_provider() -> None:
    for url in ("http://127.0.0.1:8081/jwks.json", "http://localhost/jwks", "http://[::1]:9/k"):
        assert parse_config(with_identity({**OIDC, "jwks_url": url})).identity.oidc is not None


def test_a_tenant_needs_a_key_or_a_token_mapping() -> None:
    reachable = with_identity(OIDC, globex={"api_keys": []})
    assert parse_config(reachable).tenants["globex"].api_keys == []
    message = error_of(with_identity(OIDC, initech={"api_keys": []}))
    assert "tenants.initech.api_keys: no API key, and no identity.oidc.tenants entry maps" in message
    document = yaml.safe_load(yaml.safe_dump(DEMO))
    document["tenants"]["initech"]["api_keys"] = []
    assert "tenants.initech.api_keys: no API key" in error_of(yaml.safe_dump(document))


def test_a_load_test_grant_for_tokens_names_a_claim_and_a_value() -> None:
    grant = {"claim": "roles", "value": "aigw-load-tests"}
    oidc = parse_config(with_identity({**OIDC, "load_tests": grant})).identity.oidc
    assert oidc is not None and oidc.load_tests is not None and oidc.load_tests.claim == "roles"
    ungranted = json.loads(parse_config(with_identity(OIDC)).canonical_json())
    assert "load_tests" not in ungranted["identity"]["oidc"]
    assert "identity.oidc.load_tests.value: Field required" in error_of(
        with_identity({**OIDC, "load_tests": {"claim": "roles"}}))
