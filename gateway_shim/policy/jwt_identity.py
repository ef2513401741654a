"""Verify a company identity token (a JWT signed by the OIDC issuer) and map its claims to a caller.

Pure: the signing keys are handed in (``use_keys``, by ``gateway_shim.server.jwks_fetcher``) and the
time comes from the caller, so the same token gives the same answer in a test with a fixed clock.
PyJWT checks the signature (bound to the key's own algorithm), the audience and the issuer; the time
claims are checked here against the caller's clock with ``max_clock_skew_s`` of tolerance.

Checks, in order, each refusal a 401 naming the reason (docs/policy.md, "Company identity"):
shape → ``alg`` accepted → issuer → signing key known → signature, audience, ``exp`` present →
expiry / not-before / issued-at → tenant claim mapped. A verified token is cached by its full text
until it expires: a repeat costs a dict lookup instead of a signature check.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from typing import Any

import jwt
import orjson
from jwt import exceptions as jwt_errors

from gateway_shim.config.models import Oidc
from gateway_shim.policy.callers import AuthFailure, Caller, looks_like_jwt
from gateway_shim.policy.signing_keys import SigningKeys

MAX_CLAIM_CHARS = 256
"""As for the request contract's headers: a claim value longer than this is cut."""
CACHE_LIMIT = 10_000
"""Verified tokens kept; past it, expired ones are dropped, and if none are, the cache starts over."""

_MALFORMED = AuthFailure("invalid_token", "the bearer token is neither an API key nor a well-formed JWT")


class JwtVerifier:
    """One issuer's tokens → ``Caller``. Single-threaded (the event loop); not safe across threads."""

    def __init__(self, settings: Oidc, tenant_ids: Collection[str]) -> None:
        self.settings = settings
        self._algorithms = frozenset(settings.algorithms)
        self._skew = float(settings.max_clock_skew_s)
        self._audience = settings.audience
        self._claims = settings.claims
        self._load_tests = settings.load_tests
        self._tenant_map: Mapping[str, str] = (
            dict(settings.tenants) if settings.tenants is not None else {t: t for t in tenant_ids})
        self.keys = SigningKeys()
        self._verified: dict[str, tuple[Caller, float]] = {}
        self._options: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                              "require": ["exp", "iss", "aud"]}

    def use_keys(self, keys: SigningKeys) -> bool:
        """Verify with ``keys`` from now on; ``True`` if they differ from before (the cache is reset)."""
        changed = keys.fingerprint != self.keys.fingerprint
        self.keys = keys
        if changed:
            self._verified.clear()
        return changed

    def missing_key(self, token: str) -> str | None:
        """The ``kid`` (``""`` when the header has none) of a JWT whose signing key is not loaded;
        ``None`` when there is nothing to fetch (a cached or verifiable token, or not a JWT at all)."""
        if token in self._verified or not looks_like_jwt(token):
            return None
        header = _segment(token.partition(".")[0])
        if header is None or header.get("alg") not in self._algorithms:
            return None
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return None
        return None if self.keys.find(kid, header["alg"]) is not None else (kid or "")

    def verify(self, token: str, now_s: float) -> Caller | AuthFailure:
        """The caller a token stands for at ``now_s`` (epoch seconds), or the reason it is refused."""
        cached = self._verified.get(token)
        if cached is not None:
            caller, expires = cached
            if now_s < expires + self._skew:
                return caller
            del self._verified[token]
            return _expired(expires, now_s)
        head, _, rest = token.partition(".")
        body = rest.partition(".")[0]
        header, claims = _segment(head), _segment(body)
        if header is None or claims is None:
            return _MALFORMED
        alg = header.get("alg")
        if alg not in self._algorithms:
            return AuthFailure("unsupported_algorithm",
                               f"token algorithm {alg!r} is not accepted (identity.oidc.algorithms: "
                               f"{', '.join(sorted(self._algorithms))}; 'none' and HS* never are)")
        issuer = claims.get("iss")
        if issuer != self.settings.issuer:
            return AuthFailure("unknown_issuer",
                               f"token issuer {_shown(issuer)} is not the configured issuer "
                               f"{self.settings.issuer!r}")
        kid = header.get("kid")
        key = self.keys.find(kid, alg) if kid is None or isinstance(kid, str) else None
        if key is None:
            named = f"key id {kid!r}" if kid is not None else "no key id (and not exactly one key)"
            return AuthFailure("unknown_signing_key",
                               f"token signed with {named} for {alg}, which the issuer's JWKS does not "
                               "publish (it is re-fetched on unknown key ids, at a bounded rate)")
        try:
            payload = jwt.decode(token, key, algorithms=[alg], audience=self._audience,
                                 issuer=self.settings.issuer, options=self._options)
        except jwt_errors.InvalidSignatureError:
            return AuthFailure("invalid_signature", "the token's signature does not verify")
        except jwt_errors.InvalidAudienceError:
            return AuthFailure("invalid_audience",
                               f"token audience {_shown(claims.get('aud'))} does not include "
                               f"{_shown(self._audience)}")
        except jwt_errors.MissingRequiredClaimError as exc:
            return AuthFailure("missing_claim", f"the token has no {exc.claim!r} claim")
        except jwt_errors.InvalidIssuerError:
            return AuthFailure("unknown_issuer", f"token issuer {_shown(issuer)} is not accepted")
        except (jwt_errors.PyJWTError, ValueError, TypeError) as exc:
            return AuthFailure("invalid_token", f"the token cannot be used: {exc}")
        return self._admit(token, payload, now_s)

    def _admit(self, token: str, payload: dict[str, Any], now_s: float) -> Caller | AuthFailure:
        skew = self._skew
        times: dict[str, float] = {}
        for name in ("exp", "nbf", "iat"):
            value = payload.get(name)
            if value is None:
                continue
            if type(value) not in (int, float):
                return AuthFailure("invalid_token", f"the token's {name!r} claim is not a number")
            times[name] = float(value)
        expires = times["exp"]
        if now_s >= expires + skew:
            return _expired(expires, now_s)
        for name in ("nbf", "iat"):
            at = times.get(name)
            if at is not None and at > now_s + skew:
                return AuthFailure("token_not_yet_valid",
                                   f"the token's {name!r} is {at - now_s:.0f} s in the future "
                                   f"(allowed clock skew {skew:.0f} s)")
        caller = self._caller(payload)
        if isinstance(caller, Caller):
            self._remember(token, caller, expires, now_s)
        return caller

    def _caller(self, payload: dict[str, Any]) -> Caller | AuthFailure:
        names = self._claims
        raw = _claim(payload, names.tenant)
        if raw is None:
            return AuthFailure("missing_claim", f"the token has no {names.tenant!r} claim (the tenant)")
        values = raw if isinstance(raw, list) else [raw]
        tenants = {self._tenant_map[v] for v in values if isinstance(v, str) and v in self._tenant_map}
        if not tenants:
            return AuthFailure("unknown_tenant",
                               f"claim {names.tenant!r} = {_shown(raw)} maps to no tenant")
        if len(tenants) > 1:
            return AuthFailure("ambiguous_tenant",
                               f"claim {names.tenant!r} = {_shown(raw)} maps to several tenants "
                               f"({', '.join(sorted(tenants))})")
        return Caller(tenants.pop(), _text(payload, names.team), _text(payload, names.app),
                      _text(payload, names.user), self._may_run_load_tests(payload))

    def _may_run_load_tests(self, payload: dict[str, Any]) -> bool:
        """The token carries ``identity.oidc.load_tests``: its claim is the value or a list holding it."""
        grant = self._load_tests
        if grant is None:
            return False
        value = _claim(payload, grant.claim)
        return value == grant.value or (isinstance(value, list) and grant.value in value)

    def _remember(self, token: str, caller: Caller, expires: float, now_s: float) -> None:
        cache = self._verified
        if len(cache) >= CACHE_LIMIT:
            for stale in [t for t, (_, exp) in cache.items() if now_s >= exp + self._skew]:
                del cache[stale]
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
        cache[token] = (caller, expires)


def _expired(expires: float, now_s: float) -> AuthFailure:
    return AuthFailure("token_expired", f"the token expired {now_s - expires:.0f} s ago")


def _segment(part: str) -> dict[str, Any] | None:
    """A base64url JSON object (a JWT header or payload), or ``None`` when it is not one."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _claim(payload: dict[str, Any], name: str) -> Any:
    """A claim by its name, else by a dotted path into nested objects (``realm_access.roles``)."""
    if name in payload:
        return payload[name]
    node: Any = payload
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(payload: dict[str, Any], name: str | None) -> str | None:
    if name is None:
        return None
    value = _claim(payload, name)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    return str(value)[:MAX_CLAIM_CHARS]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
