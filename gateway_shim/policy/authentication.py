"""A bearer credential → the caller: an aigw API key first, then (when configured) a signed JWT
from the company's identity provider. Pure: the time comes from the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway_shim.config.models import Oidc, Tenant
from gateway_shim.policy.api_keys import KeyRing
from gateway_shim.policy.callers import INVALID_API_KEY, AuthFailure, Caller, looks_like_jwt

if TYPE_CHECKING:
    from gateway_shim.policy.jwt_identity import JwtVerifier


class Authenticator:
    """API keys (constant-time, ``KeyRing``) and, with ``identity.oidc``, tokens (``JwtVerifier``)."""

    __slots__ = ("_keys", "jwt")

    def __init__(self, tenants: Mapping[str, Tenant], oidc: Oidc | None = None) -> None:
        self._keys = KeyRing(tenants)
        self.jwt: JwtVerifier | None = None
        if oidc is not None:  # PyJWT and cryptography are imported only by gateways that use them
            from gateway_shim.policy.jwt_identity import JwtVerifier

            self.jwt = JwtVerifier(oidc, frozenset(tenants))

    def identify(self, credential: str, now_s: float) -> Caller | AuthFailure:
        """The caller behind ``credential`` at ``now_s`` (epoch seconds), or why it is refused.

        The key ring is asked first, so an API key that happens to look like a JWT still works.
        """
        caller = self._keys.caller_for(credential)
        if caller is not None:
            return caller
        if self.jwt is not None and looks_like_jwt(credential):
            return self.jwt.verify(credential, now_s)
        return INVALID_API_KEY

    def take_keys(self, previous: Authenticator) -> None:
        """Keep ``previous``'s signing keys (a policy reload) when both fetch the same JWKS URL."""
        if (self.jwt is not None and previous.jwt is not None
                and self.jwt.settings.jwks_url == previous.jwt.settings.jwks_url):
            self.jwt.use_keys(previous.jwt.keys)
