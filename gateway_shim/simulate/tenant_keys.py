"""The API key each simulated tenant authenticates with: requests go through the gateway's real auth.

The config stores only sha256 hashes, so the scenario names the plain keys (``api_keys``), by value or
as ``env:VAR``; a tenant it leaves out uses ``demo-<tenant>``, the demo config's well-known key.
"""

from __future__ import annotations

import hashlib
import os

from gateway_shim.config.models import Config
from gateway_shim.simulate.scenario import LoadedScenario


def tenant_keys(loaded: LoadedScenario, config: Config) -> dict[str, str]:
    """Plain key per tenant the scenario's streams use; each must hash to one of the tenant's keys."""
    given = loaded.scenario.api_keys
    keys: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for tenant_id in sorted({s.tenant for s in loaded.scenario.streams}):
        value = given.get(tenant_id, f"demo-{tenant_id}")
        if value.startswith("env:"):
            value = os.environ.get(value[4:], "")
        digest = hashlib.sha256(value.encode()).hexdigest()
        if digest not in {k.sha256 for k in config.tenants[tenant_id].api_keys}:
            where = f"api_keys.{tenant_id}"
            source = "given" if tenant_id in given else f"default 'demo-{tenant_id}'"
            problems.append((where, f"the {source} key does not match any of tenant {tenant_id!r}'s "
                                    "api_keys in the config"))
        keys[tenant_id] = value
    if problems:
        raise loaded.error(problems)
    return keys
