"""``GET /v1/models``: the models a key's tenant can be routed to, OpenAI list format.

The gateway picks the model (the app names its workflow), so this is what the tenant may end up on:
every target and degrade target of the routes open to the tenant's lanes, with the sensitivities
whose data may go there.
"""

from __future__ import annotations

import orjson

from gateway_shim.config.models import Config
from gateway_shim.policy.allowlist import DataClassRule
from gateway_shim.policy.keys import KeyRing
from gateway_shim.types import Target


class ModelCatalog:
    def __init__(self, config: Config) -> None:
        self.keys = KeyRing(config.tenants)
        rules = [DataClassRule(name, data_class) for name, data_class in config.data_classes.items()]
        self._bodies: dict[str, bytes] = {}
        for tenant_id, tenant in config.tenants.items():
            lanes = set(tenant.lanes)
            seen: dict[str, Target] = {}
            for route in config.routes.values():
                if route.match.lanes is not None and not lanes & set(route.match.lanes):
                    continue
                targets = list(route.targets)
                if route.degrade is not None and route.degrade.target is not None:
                    targets.append(route.degrade.target)
                for target in targets:
                    seen.setdefault(target.key, Target(target.provider, target.model))
            data = [{
                "id": target.model,
                "object": "model",
                "created": 0,
                "owned_by": target.provider,
                "aigw_sensitivities": [rule.name for rule in rules if rule.allows(target)],
            } for target in sorted(seen.values(), key=lambda t: (t.model, t.provider))]
            self._bodies[tenant_id] = orjson.dumps({"object": "list", "data": data})

    def body_for(self, api_key: str | None) -> bytes | None:
        """The JSON list for this key's tenant; None for an unknown key."""
        if not api_key:
            return None
        tenant = self.keys.tenant_for(api_key)
        return None if tenant is None else self._bodies.get(tenant)
