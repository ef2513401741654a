"""Route selection: (workflow, lane) → the configured route, in config order, ``default`` last.

A route matches when each of its ``match`` lists that is set contains the request's value; a route
without any match list only matches as ``default``. Results are memoised per (workflow, lane).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway_shim.config.models import Provider, Route
from gateway_shim.config.models import Target as TargetConfig
from gateway_shim.routing.capabilities import make_target as capable_target
from gateway_shim.types import Target

_MEMO_LIMIT = 4096


@dataclass(slots=True, frozen=True)
class RouteSpec:
    name: str
    workflows: frozenset[str] | None
    lanes: frozenset[str] | None
    targets: tuple[Target, ...]
    degrade_target: Target | None
    degrade_max_output_tokens: int | None

    @property
    def degradable(self) -> bool:
        return self.degrade_target is not None or self.degrade_max_output_tokens is not None

    def matches(self, workflow: str | None, lane: str) -> bool:
        if self.workflows is None and self.lanes is None:
            return False
        return (self.workflows is None or workflow in self.workflows) and (
            self.lanes is None or lane in self.lanes
        )


class RouteTable:
    """All routes of a config, ready for per-request selection.

    ``targets`` holds one ``Target`` object per provider/model, shared by every route, so targets
    can be compared by identity on the hot path.
    """

    __slots__ = ("_default", "_memo", "_routes", "targets")

    def __init__(self, routes: Mapping[str, Route], providers: Mapping[str, Provider]) -> None:
        self.targets: dict[str, Target] = {}

        def make_target(target: TargetConfig) -> Target:
            made = capable_target(target.provider, providers[target.provider], target.model,
                                  target.capabilities)
            return self.targets.setdefault(made.key, made)

        specs = []
        for name, route in routes.items():
            degrade = route.degrade
            specs.append(RouteSpec(
                name=name,
                workflows=frozenset(route.match.workflows) if route.match.workflows is not None else None,
                lanes=frozenset(route.match.lanes) if route.match.lanes is not None else None,
                targets=tuple(make_target(t) for t in route.targets),
                degrade_target=make_target(degrade.target) if degrade and degrade.target else None,
                degrade_max_output_tokens=degrade.max_output_tokens if degrade else None,
            ))
        self._routes = tuple(s for s in specs if s.name != "default")
        self._default = next(s for s in specs if s.name == "default")
        self._memo: dict[tuple[str | None, str], RouteSpec] = {}

    @property
    def all(self) -> tuple[RouteSpec, ...]:
        return (*self._routes, self._default)

    def select(self, workflow: str | None, lane: str) -> RouteSpec:
        key = (workflow, lane)
        found = self._memo.get(key)
        if found is None:
            found = next((s for s in self._routes if s.matches(workflow, lane)), self._default)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = found
        return found
