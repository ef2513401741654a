"""Who is calling: what authentication tells the core, or why it refused (always a 401)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Caller:
    """An authenticated caller. ``None`` fields fall back to the tenant's team and the request's
    ``x-aigw-app``/``x-aigw-user``; a token's mapped claims fill them and win over headers."""

    tenant_id: str
    team: str | None = None
    app_id: str | None = None
    user_id: str | None = None
    load_tests: bool = False
    """May mark its traffic as load-test traffic (``policy/load_tests.py``): an API key with
    ``load_tests: true``, or a token carrying ``identity.oidc.load_tests``."""


@dataclass(slots=True, frozen=True)
class AuthFailure:
    """A refused credential: ``code`` is the error code and event ``error_type``; the message says why."""

    code: str
    message: str


INVALID_API_KEY = AuthFailure("invalid_api_key", "unknown API key")


def looks_like_jwt(credential: str) -> bool:
    """Three dot-separated parts: the JWS compact serialisation."""
    return credential.count(".") == 2
