"""Which keys changed between two policy documents: the ``policy_change`` drift rows."""

from __future__ import annotations

from typing import Any

# Snapshot metadata that is not part of the policy itself.
SNAPSHOT_METADATA = ("policy_version", "first_seen")


def policy_document(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The policy inside a ``policies/<version>.json`` snapshot (nested, or top level beside metadata)."""
    for key in ("document", "config", "policy"):
        nested = snapshot.get(key)
        if isinstance(nested, dict):
            return nested
    return {k: v for k, v in snapshot.items() if k not in SNAPSHOT_METADATA}


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key paths to leaf values; lists are leaves (a changed list is one changed key)."""
    if isinstance(document, dict) and document:
        leaves: dict[str, Any] = {}
        for key, value in document.items():
            leaves.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    return {prefix: document}


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Sorted key paths added, removed or changed from ``before`` to ``after``."""
    old, new = flatten(before), flatten(after)
    return sorted(key for key in old.keys() | new.keys() if old.get(key, _MISSING) != new.get(key, _MISSING))


_MISSING = object()
