"""The incident schedule: the scenario's incidents as timed actions on the virtual clock.

Built (and validated: a policy patch must give a valid config) before the first request, so a bad
scenario fails at once rather than on day 14. Extra traffic (surges, storms) is the traffic model's;
prices come only from the config's catalog, so a price change is reported, not acted on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from gateway_shim.config.models import Config
from gateway_shim.simulate.scenario import (
    DAY_S,
    LoadedScenario,
    ModelOutage,
    PolicyChange,
    PriceChange,
    PromptRollout,
    ProviderDegradation,
    RateLimitStorm,
    TrafficSurge,
    apply_patch,
)
from gateway_shim.simulated_provider.faults import Fault

ActionKind = Literal["fault_on", "fault_off", "policy", "rollout"]


@dataclass(slots=True, frozen=True)
class Action:
    """Something the engine does at ``at`` seconds after the start."""

    at: float
    kind: ActionKind
    label: str
    fault: Fault | None = None
    model: str = ""
    config: Config | None = None
    stream: int = -1
    prompt_version: str = ""
    input_tokens_factor: float = 1.0


@dataclass(slots=True, frozen=True)
class Note:
    """One line of the run's incident summary."""

    when: dt.datetime | None
    label: str
    detail: str


@dataclass(slots=True, frozen=True)
class Schedule:
    actions: list[Action]
    notes: list[Note]
    configs: list[Config]
    """Every policy in force during the run, the initial one first."""


def build_schedule(loaded: LoadedScenario, config: Config, start: dt.date, days: int) -> Schedule:
    """Actions sorted by time (ties keep scenario order), plus what the summary should say."""
    scenario = loaded.scenario
    horizon = days * DAY_S
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    streams = {s.name: i for i, s in enumerate(scenario.streams)}
    actions: list[Action] = []
    notes: list[Note] = []
    configs = [config]
    current = config
    ordered = sorted(enumerate(scenario.incidents), key=lambda pair: getattr(pair[1], "at", 0.0))
    for index, incident in ordered:
        label = incident.name or incident.kind.replace("_", " ")
        if isinstance(incident, PriceChange):
            notes.append(_price_note(config, incident, label, start, days))
            continue
        when = origin + dt.timedelta(seconds=incident.at)
        if incident.at >= horizon:
            notes.append(Note(when, label, "after the end of the window: not simulated"))
            continue
        if isinstance(incident, ProviderDegradation | ModelOutage):
            models = _models_of(config, incident)
            for model in models:
                if isinstance(incident, ModelOutage):
                    fault = Fault(model=model, status=503, outage=True)
                else:
                    fault = Fault(model=model, error_rate=incident.error_rate, status=incident.status,
                                  throttle_rate=incident.throttle_rate,
                                  added_latency_ms=incident.added_latency_ms)
                actions.append(Action(incident.at, "fault_on", label, fault=fault, model=model))
                actions.append(Action(incident.at + incident.duration, "fault_off", label, model=model))
            notes.append(Note(when, label, f"{', '.join(models)} for {_hours(incident.duration)}"))
        elif isinstance(incident, PolicyChange):
            current = apply_patch(loaded, index, current, incident.patch)
            configs.append(current)
            actions.append(Action(incident.at, "policy", label, config=current))
            change = f"policy {configs[-2].policy_version} -> {current.policy_version}"
            notes.append(Note(when, label, change))
        elif isinstance(incident, PromptRollout):
            actions.append(Action(incident.at, "rollout", label, stream=streams[incident.stream],
                                  prompt_version=incident.prompt_version,
                                  input_tokens_factor=incident.input_tokens_factor))
            notes.append(Note(when, label, f"{incident.stream} -> {incident.prompt_version} "
                                           f"(input tokens x{incident.input_tokens_factor:g})"))
        elif isinstance(incident, TrafficSurge):
            until = "the end" if incident.duration is None else _hours(incident.duration)
            notes.append(Note(when, label, f"+{incident.requests_per_hour:g} requests/h on "
                                           f"{incident.stream} until {until}"))
        elif isinstance(incident, RateLimitStorm):
            notes.append(Note(when, label, f"{incident.user}: {incident.requests_per_min:g} requests/min "
                                           f"for {_hours(incident.duration)}"))
    actions.sort(key=lambda a: a.at)
    notes.sort(key=lambda n: (n.when is None, n.when or origin))
    return Schedule(actions, notes, configs)


def _models_of(config: Config, incident: ProviderDegradation | ModelOutage) -> list[str]:
    """The incident's model, or every model the config routes to on the incident's provider."""
    if incident.model is not None:
        return [incident.model]
    provider = getattr(incident, "provider", None)
    models: set[str] = set()
    for route in config.routes.values():
        degrade = route.degrade.target if route.degrade is not None else None
        models.update(t.model for t in [*route.targets, degrade] if t is not None and t.provider == provider)
    return sorted(models)


def price_changes_in_window(config: Config, model: str, start: dt.date, days: int) -> list[dt.date]:
    """The catalog's effective_from dates for ``model`` after the first day and within the window."""
    last = start + dt.timedelta(days=days - 1)
    return sorted(p.effective_from for p in config.pricing.get(model, []) if start < p.effective_from <= last)


def _price_note(config: Config, incident: PriceChange, label: str, start: dt.date, days: int) -> Note:
    changes = price_changes_in_window(config, incident.model, start, days)
    if not changes:
        return Note(None, label, f"no change for {incident.model} in the pricing catalog within the window "
                                 "(prices come only from the config)")
    day = changes[0]
    before = config.price_on(incident.model, day - dt.timedelta(days=1))
    after = config.price_on(incident.model, day)
    assert after is not None
    was = f"{before.input_per_mtok:g}/{before.output_per_mtok:g}" if before else "none"
    detail = (f"{incident.model} {was} -> {after.input_per_mtok:g}/{after.output_per_mtok:g} "
              "USD per 1M input/output tokens (from the catalog)")
    return Note(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), label, detail)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"
