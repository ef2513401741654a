"""Key-level differences between two policy documents, for `aigw policy check --against` and the
pipelines' `ref.policy_changes` (drift)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Change:
    kind: Literal["added", "removed", "changed"]
    path: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {self.after!r}"
        if self.kind == "removed":
            return f"- {self.path}: {self.before!r}"
        return f"~ {self.path}: {self.before!r} -> {self.after!r}"


def diff_documents(before: Any, after: Any, path: str = "") -> list[Change]:
    """Walk two JSON-like documents; mappings are compared key by key, anything else as a whole value."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(before.keys() | after.keys(), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in after:
                changes.append(Change("removed", child, before=before[key]))
            elif key not in before:
                changes.append(Change("added", child, after=after[key]))
            else:
                changes.extend(diff_documents(before[key], after[key], child))
        return changes
    if before != after:
        return [Change("changed", path or "<root>", before=before, after=after)]
    return []


def changed_keys(before: Any, after: Any) -> list[str]:
    """The sorted key paths added, removed or changed: what ``ref.policy_changes`` records."""
    return sorted(change.path for change in diff_documents(before, after))
