"""Which providers and models data of each sensitivity may reach (``data_classes`` in the config)."""

from __future__ import annotations

from gateway_shim.config.models import DataClass
from gateway_shim.types import Target


class DataClassRule:
    """One sensitivity level's allowlist: providers (``*`` = any) and optionally named models."""

    __slots__ = ("_models", "_providers", "name")

    def __init__(self, name: str, data_class: DataClass) -> None:
        self.name = name
        self._providers: frozenset[str] | None = (
            None if "*" in data_class.providers else frozenset(data_class.providers)
        )
        self._models: frozenset[str] | None = (
            None if data_class.models is None else frozenset(data_class.models)
        )

    def allows(self, target: Target) -> bool:
        return (self._providers is None or target.provider in self._providers) and (
            self._models is None or target.model in self._models
        )

    def describe(self) -> str:
        """The rule in words, for 403 messages: ``sensitivity 'restricted' allows providers [...] ...``."""
        providers = "any" if self._providers is None else "[" + ", ".join(sorted(self._providers)) + "]"
        text = f"sensitivity {self.name!r} allows providers {providers}"
        if self._models is not None:
            text += " models [" + ", ".join(sorted(self._models)) + "]"
        return text
