"""Policy snapshots: each policy version's full document, written once to ``policies/<version>.json``.

Events carry only ``policy_version``; the snapshot lets the pipelines (policy drift) and people see
what that version said. Written at most once per version: the first gateway to see it wins and
``first_seen`` records when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import orjson

from gateway_shim.telemetry.layout import policy_snapshot_path
from gateway_shim.telemetry.storage import LakeLocation


class VersionedConfig(Protocol):
    @property
    def policy_version(self) -> str: ...

    def canonical_json(self) -> str: ...


def policy_snapshot(config: VersionedConfig, first_seen: dt.datetime) -> bytes:
    """``{"policy_version", "first_seen", "config": <the canonical document, keys by name only>}``."""
    return orjson.dumps(
        {
            "policy_version": config.policy_version,
            "first_seen": first_seen.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "config": without_key_hashes(orjson.loads(config.canonical_json())),
        },
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
    )


def without_key_hashes(document: dict[str, Any]) -> dict[str, Any]:
    """The canonical document with each tenant's ``api_keys`` reduced to their names, and the names
    of those that may mark load-test traffic as ``load_test_keys`` (only when there are any).

    Key hashes are unsalted sha256 of the keys: whoever reads the lake could test guesses against
    them, so they never leave the config file. A rotated key still changes the policy version.
    """
    tenants = document.get("tenants")
    if not isinstance(tenants, dict):
        return document
    named = {tenant_id: _keys_by_name(tenant) if isinstance(tenant, dict) else tenant
             for tenant_id, tenant in tenants.items()}
    return {**document, "tenants": named}


def _keys_by_name(tenant: dict[str, Any]) -> dict[str, Any]:
    keys = [key for key in tenant.get("api_keys", []) if isinstance(key, dict)]
    named = {**tenant, "api_keys": [key.get("name") for key in keys]}
    granted = [key.get("name") for key in keys if key.get("load_tests") is True]
    if granted:
        named["load_test_keys"] = granted
    return named


def write_policy_snapshot(lake: LakeLocation, config: VersionedConfig, now: dt.datetime | None = None) -> str:
    """Write the config's snapshot unless its version is already in the lake; returns its relative path."""
    path = policy_snapshot_path(config.policy_version)
    if not lake.exists(path):
        lake.write_bytes(path, policy_snapshot(config, now or dt.datetime.now(dt.UTC)))
    return path
