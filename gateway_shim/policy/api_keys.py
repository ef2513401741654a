"""API keys → tenant. Keys are stored as sha256 hashes and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from gateway_shim.config.models import Tenant


class KeyRing:
    """Every configured key hash with its tenant; lookups compare against all of them."""

    __slots__ = ("_entries",)

    def __init__(self, tenants: Mapping[str, Tenant]) -> None:
        self._entries: tuple[tuple[bytes, str], ...] = tuple(
            (bytes.fromhex(key.sha256), tenant_id)
            for tenant_id, tenant in tenants.items()
            for key in tenant.api_keys
        )

    def tenant_for(self, api_key: str) -> str | None:
        """The tenant owning ``api_key``, or ``None``.

        Every stored hash is compared with ``hmac.compare_digest`` and the loop never exits early,
        so the time taken does not depend on which key (if any) matched.
        """
        digest = hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()
        found: str | None = None
        for stored, tenant_id in self._entries:
            if hmac.compare_digest(stored, digest):
                found = tenant_id
        return found
