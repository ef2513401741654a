"""An identity provider's JWKS document → the public keys tokens may be signed with, by key id.

Pure: the document comes from the caller (``gateway_shim.server.jwks_fetcher`` fetches it). Keys of
an algorithm the config does not accept, private or symmetric keys, and keys meant for encryption are
left out, so a token can only ever be checked against a public RS256/ES256 key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jwt import PyJWK
from jwt.exceptions import PyJWTError

_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class JwksError(ValueError):
    """A JWKS document that yields no usable key; the message says why."""


@dataclass(frozen=True)
class SigningKeys:
    """Public keys by ``kid``; ``unnamed`` holds keys published without a ``kid``."""

    by_kid: Mapping[str, PyJWK] = field(default_factory=dict)
    unnamed: tuple[PyJWK, ...] = ()
    skipped: tuple[str, ...] = ()
    """Why each left-out key was left out (for the log line of a refresh)."""
    fingerprint: frozenset[str] = frozenset()
    """The used entries, canonical: it changes when keys are added, removed or replaced (caches of
    verified tokens reset on a change, so a withdrawn key stops working at once)."""

    def find(self, kid: str | None, alg: str) -> PyJWK | None:
        """The key for a token header's ``kid`` and ``alg``; without a ``kid``, the only key of ``alg``."""
        if kid is not None:
            key = self.by_kid.get(kid)
            return key if key is not None and key.algorithm_name == alg else None
        candidates = [k for k in (*self.by_kid.values(), *self.unnamed) if k.algorithm_name == alg]
        return candidates[0] if len(candidates) == 1 else None


def parse_jwks(document: object, algorithms: Iterable[str]) -> SigningKeys:
    """The usable keys of a JWKS document (``{"keys": [...]}``); ``JwksError`` when none is usable."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError("not a JWKS document: expected an object with a 'keys' list")
    allowed = set(algorithms)
    by_kid: dict[str, PyJWK] = {}
    unnamed: list[PyJWK] = []
    skipped: list[str] = []
    used: set[str] = set()
    for index, entry in enumerate(document["keys"]):
        where = f"keys[{index}]"
        if not isinstance(entry, dict):
            skipped.append(f"{where}: not an object")
            continue
        kid = entry.get("kid")
        if kid is not None:
            where = f"{where} (kid {kid!r})"
        reason = _unusable(entry)
        if reason is None:
            try:
                key = PyJWK(entry)
            except PyJWTError as exc:
                reason = f"unreadable: {exc}"
            else:
                if key.algorithm_name not in allowed:
                    reason = f"algorithm {key.algorithm_name} is not in identity.oidc.algorithms"
        if reason is not None:
            skipped.append(f"{where}: {reason}")
            continue
        used.add(json.dumps(entry, sort_keys=True))
        if isinstance(kid, str) and kid:
            by_kid[kid] = key
        else:
            unnamed.append(key)
    if not by_kid and not unnamed:
        detail = "; ".join(skipped) if skipped else "the document lists no keys"
        raise JwksError(f"no usable signing key ({detail})")
    return SigningKeys(by_kid, tuple(unnamed), tuple(skipped), frozenset(used))


def _unusable(entry: Mapping[str, object]) -> str | None:
    if entry.get("kty") not in ("RSA", "EC"):
        return f"key type {entry.get('kty')!r} is not RSA or EC"
    if any(member in entry for member in _PRIVATE_MEMBERS):
        return "holds private key material (a JWKS must publish public keys only)"
    if entry.get("use") not in (None, "sig"):
        return f"use {entry.get('use')!r} is not 'sig'"
    return None
