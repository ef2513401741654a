"""Which apps a tenant may book spend on: ``x-aigw-app`` must be one of the tenant's ``apps``.

Without this check a tenant could name another tenant's app and have its spend shown there. A
tenant with ``enforce_apps: false`` may name any app (for teams that mint app names freely).
"""

from __future__ import annotations

from collections.abc import Iterable


class AppRule:
    """A tenant's allowed app names, or none to check."""

    __slots__ = ("_apps", "_tenant")

    def __init__(self, tenant_id: str, apps: Iterable[str], enforce: bool) -> None:
        self._tenant = tenant_id
        self._apps = frozenset(apps) if enforce else None

    def refusal(self, app: str | None) -> str | None:
        """Why ``app`` may not be named, or ``None`` (no app named is always allowed)."""
        if app is None or self._apps is None or app in self._apps:
            return None
        return (f"app {app!r} is not one of tenant {self._tenant!r}'s apps "
                f"({', '.join(sorted(self._apps))})")
