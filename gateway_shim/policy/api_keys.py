"""API keys → caller. Keys are stored as sha256 hashes and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from gateway_shim.config.models import Tenant
from gateway_shim.policy.callers import Caller


class KeyRing:
    """Every configured key hash with its caller (tenant, load-test permission); lookups compare
    against all of them."""

    __slots__ = ("_entries",)

    def __init__(self, tenants: Mapping[str, Tenant]) -> None:
        self._entries: tuple[tuple[bytes, Caller], ...] = tuple(
            (bytes.fromhex(key.sha256), Caller(tenant_id, load_tests=key.load_tests))
            for tenant_id, tenant in tenants.items()
            for key in tenant.api_keys
        )

    def caller_for(self, api_key: str) -> Caller | None:
        """The caller ``api_key`` stands for, or ``None``.

        Every stored hash is compared with ``hmac.compare_digest`` and the loop never exits early,
        so the time taken does not depend on which key (if any) matched.
        """
        digest = hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()
        found: Caller | None = None
        for stored, caller in self._entries:
            if hmac.compare_digest(stored, digest):
                found = caller
        return found
