"""The scenario file: who sends what, when, and which incidents happen (docs/simulate.md).

Typed and strict like the policy config: unknown keys and bad values fail at load time with the file,
the key path and its line. References into the policy config (tenants, apps, lanes, data classes,
models) are checked by ``check_against`` once the config is known.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway_shim.config.models import Config
from gateway_shim.config.overlay import apply_overlay
from gateway_shim.config.yaml_document import (
    format_problems,
    parse_yaml_mapping,
    read_text,
    validation_problems,
)

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "default.yaml"
DAY_S = 86_400.0

_AT = re.compile(r"^day\s+(\d+)(?:\s+(\d{1,2}):(\d{2}))?$")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$")


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; the message names the file, the key and the line."""


def parse_at(value: object) -> float:
    """``"day 6 13:00"`` → seconds after the start of the simulation (day 1 is the first day)."""
    match = _AT.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected 'day N' or 'day N HH:MM' (day 1 is the first day), got {value!r}")
    day, hour, minute = int(match[1]), int(match[2] or 0), int(match[3] or 0)
    if day < 1 or hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not a valid time (day >= 1, HH 00-23, MM 00-59)")
    return (day - 1) * DAY_S + hour * 3600.0 + minute * 60.0


def parse_duration(value: object) -> float:
    """``"4h"``, ``"90m"``, ``"1h30m"``, ``"2d"`` → seconds."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) and value.strip() else None
    if match is None or not any(match.groups()):
        raise ValueError(f"expected a duration like '4h', '90m', '1h30m' or '2d', got {value!r}")
    d, h, m, s = (int(g or 0) for g in match.groups())
    seconds = d * DAY_S + h * 3600.0 + m * 60.0 + s
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return seconds


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Share = Annotated[float, Field(ge=0, le=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class Lognormal(Strict):
    """A lognormal around ``median`` (``sigma`` = spread of its log), clipped to [min, max]."""

    median: PositiveFloat
    sigma: Annotated[float, Field(ge=0, le=3)] = 0.5
    min: Annotated[float, Field(ge=0)] = 1
    max: PositiveFloat = 100_000

    @model_validator(mode="after")
    def _bounds(self) -> Lognormal:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Stream(Strict):
    """One kind of traffic: a tenant's app sending one workflow on one lane."""

    name: str
    tenant: str
    app: str
    workflow: str | None = None
    """Left out (or empty) = the app sends no workflow tag: untagged spend."""
    lane: str = "standard"
    share: PositiveFloat
    """Relative weight in the organisation's daily volume (``requests_per_day``)."""
    sensitivity: str = "internal"
    budget_class: str = "standard"
    streaming_share: Share = 0.0
    users: PositiveInt = 50
    diurnal: str = "office"
    weekly: str = "weekdays"
    prompt_version: str = "v1"
    input_tokens: Lognormal
    max_tokens: PositiveInt | None = None
    """The client's output cap; the simulated model decides the answer's length below it."""
    retrieval_ms: Lognormal | None = None
    model_requested: str = ""
    pii_share: Share = 0.0
    """Share of prompts carrying an e-mail address or phone number (the guardrails redact them)."""
    injection_share: Share = 0.0
    """Share of prompts with a prompt-injection phrase (the guardrails block them)."""
    tools: bool = False
    """An agent: every request offers tools (routed to targets that support them) and about two turns
    in three end in a tool call."""
    operation: Literal["chat", "embeddings"] = "chat"
    """What the app calls: chat completions, or embeddings (no output tokens, never streamed)."""

    @model_validator(mode="after")
    def _embeddings_offer_no_tools(self) -> Stream:
        if self.tools and self.operation == "embeddings":
            raise ValueError("tools: true is for chat streams (an embeddings call offers no tools)")
        return self


class _Timed(Strict):
    name: str = ""
    at: float

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: object) -> float:
        return parse_at(value)


class _Windowed(_Timed):
    duration: float

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class ProviderDegradation(_Windowed):
    """Errors, throttling and added latency on one model, or on every model of one provider the
    config routes to, for a while: fallbacks, slower answers, failed chains and SLO burn."""

    kind: Literal["provider_degradation"]
    model: str | None = None
    provider: str | None = None
    error_rate: Share = 0.0
    status: Annotated[int, Field(ge=400, le=599)] = 503
    throttle_rate: Share = 0.0
    added_latency_ms: Annotated[float, Field(ge=0, le=600_000)] = 0.0

    @model_validator(mode="after")
    def _one_subject(self) -> ProviderDegradation:
        if (self.model is None) == (self.provider is None):
            raise ValueError("give either model or provider")
        return self


class ModelOutage(_Windowed):
    """Every call to one model fails (503): its circuit breaker opens and the chain falls back."""

    kind: Literal["model_outage"]
    model: str


class PolicyChange(_Timed):
    """A new policy from ``at`` on: the current config deep-merged with ``patch`` (lists replace)."""

    kind: Literal["policy_change"]
    patch: dict[str, Any] = Field(min_length=1)


class PromptRollout(_Timed):
    """A stream switches to a new prompt version whose prompts are longer (or shorter)."""

    kind: Literal["prompt_rollout"]
    stream: str
    prompt_version: str
    input_tokens_factor: PositiveFloat = 1.0


class TrafficSurge(_Timed):
    """Extra traffic of one stream at an absolute rate (not scaled): a backfill, a launch."""

    kind: Literal["traffic_surge"]
    stream: str
    requests_per_hour: PositiveFloat
    duration: float | None = None
    """Left out = until the end of the simulation."""

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)


class RateLimitStorm(_Windowed):
    """One user of a stream hammers the gateway (absolute rate): the tenant's rate limit answers 429."""

    kind: Literal["rate_limit_storm"]
    stream: str
    user: str
    requests_per_min: PositiveFloat


class PriceChange(Strict):
    """A change in the config's pricing catalog for ``model``: reported, never invented (see docs)."""

    kind: Literal["price_change"]
    name: str = ""
    model: str


Incident = Annotated[
    ProviderDegradation | ModelOutage | PolicyChange | PromptRollout | TrafficSurge | RateLimitStorm
    | PriceChange,
    Field(discriminator="kind"),
]


INCIDENT_KINDS = frozenset({"provider_degradation", "model_outage", "policy_change", "prompt_rollout",
                            "traffic_surge", "rate_limit_storm", "price_change"})


class ProviderPrice(Strict):
    effective_from: dt.date
    input_per_mtok: Annotated[Decimal, Field(ge=0)]
    output_per_mtok: Annotated[Decimal, Field(ge=0)]
    cache_read_per_mtok: Annotated[Decimal | None, Field(ge=0)] = None
    """Prompt-cache reads (billed on their own usage type); unset: the input price."""

    @property
    def cache_read_price(self) -> Decimal:
        return self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok


class DirectCaller(Strict):
    """A team that calls Bedrock with its own IAM role, not through the gateway."""

    name: str
    identity_arn: str
    model: str
    requests_per_day: PositiveFloat
    input_tokens: Lognormal
    output_tokens: Lognormal
    diurnal: str = "office"
    weekly: str = "weekdays"


class ProviderSide(Strict):
    """Bedrock's own records of the run (docs/simulate.md, "The provider's side"): its invocation logs
    for every call it serves and the month's FOCUS bill at its own prices, never the gateway's."""

    account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: str
    gateway_role_arn: str
    providers: list[str] = Field(default=["bedrock"], min_length=1)
    """The config's providers that are Bedrock: calls to them are logged and billed."""
    discount: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal(0)
    """The negotiated private-pricing discount: effective cost = list cost × (1 − discount)."""
    bill_lag_days: Annotated[int, Field(ge=0, le=7)] = 1
    """The bill covers the run's days but the last ``bill_lag_days`` (not billed yet)."""
    prices: dict[str, list[ProviderPrice]] = Field(min_length=1)
    """The provider's own list prices, USD per 1M tokens."""
    direct_callers: list[DirectCaller] = []

    def price_on(self, model: str, day: dt.date) -> ProviderPrice | None:
        in_force = [p for p in self.prices.get(model, []) if p.effective_from <= day]
        return max(in_force, key=lambda p: p.effective_from) if in_force else None


class Scenario(Strict):
    version: Literal[1] = 1
    name: str
    description: str = ""
    requests_per_day: PositiveFloat
    """Average daily requests at scale 1 at the start of the window (before growth)."""
    growth_per_30_days: Annotated[float, Field(ge=-0.9, le=10)] = 0.0
    gateway_overhead_ms: Annotated[float, Field(ge=0)] = 0.4
    prompt_text: Literal["full", "compact"] = "compact"
    api_keys: dict[str, str] = {}
    """Plain API key per tenant (or ``env:VAR``); default ``demo-<tenant>``."""
    """``full``: prompt text of the true size; ``compact``: a short text, true sizes in the usage only."""
    diurnal: dict[str, list[Annotated[float, Field(ge=0)]]] = Field(min_length=1)
    weekly: dict[str, list[Annotated[float, Field(ge=0)]]] = Field(min_length=1)
    streams: list[Stream] = Field(min_length=1)
    incidents: list[Incident] = []
    provider: ProviderSide | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        errors: list[str] = []
        for name, shape in self.diurnal.items():
            if len(shape) != 24 or not any(shape):
                errors.append(f"diurnal.{name}: needs 24 hourly weights, not all zero")
        for name, shape in self.weekly.items():
            if len(shape) != 7 or not any(shape):
                errors.append(f"weekly.{name}: needs 7 weights (Monday first), not all zero")
        names = [s.name for s in self.streams]
        for i, stream in enumerate(self.streams):
            if names.count(stream.name) > 1:
                errors.append(f"streams.{i}.name: duplicate stream name {stream.name!r}")
            if stream.diurnal not in self.diurnal:
                errors.append(f"streams.{i}.diurnal: unknown shape {stream.diurnal!r}")
            if stream.weekly not in self.weekly:
                errors.append(f"streams.{i}.weekly: unknown shape {stream.weekly!r}")
        for i, incident in enumerate(self.incidents):
            named = getattr(incident, "stream", None)
            if named is not None and named not in names:
                errors.append(f"incidents.{i}.stream: unknown stream {named!r}")
        for i, caller in enumerate(self.provider.direct_callers if self.provider else []):
            if caller.diurnal not in self.diurnal:
                errors.append(f"provider.direct_callers.{i}.diurnal: unknown shape {caller.diurnal!r}")
            if caller.weekly not in self.weekly:
                errors.append(f"provider.direct_callers.{i}.weekly: unknown shape {caller.weekly!r}")
            if self.provider and caller.model not in self.provider.prices:
                errors.append(f"provider.direct_callers.{i}.model: no provider price for {caller.model!r}")
        if errors:
            raise ValueError("\n".join(errors))
        return self


class LoadedScenario:
    """A validated scenario plus where it came from (to name lines in later errors)."""

    def __init__(self, scenario: Scenario, source: str, root: yaml.Node | None) -> None:
        self.scenario = scenario
        self.source = source
        self.root = root

    def error(self, problems: list[tuple[str, str]]) -> ScenarioError:
        return ScenarioError(_format(self.source, self.root, problems))


def load_scenario(path: str | Path | None = None) -> LoadedScenario:
    source = Path(path) if path is not None else DEFAULT_SCENARIO
    return parse_scenario(read_text(source, "scenario", ScenarioError), str(source))


def parse_scenario(text: str, source: str = "<scenario>") -> LoadedScenario:
    document, root = parse_yaml_mapping(text, source, ScenarioError)
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(_format(source, root, validation_problems(exc, _not_a_union_tag))) from exc
    return LoadedScenario(scenario, source, root)


def check_against(loaded: LoadedScenario, config: Config) -> None:
    """Every tenant, app, lane, data class and model the scenario names must exist in the config."""
    problems: list[tuple[str, str]] = []
    for i, s in enumerate(loaded.scenario.streams):
        tenant = config.tenants.get(s.tenant)
        if tenant is None:
            problems.append((f"streams.{i}.tenant", f"unknown tenant {s.tenant!r}"))
        elif s.app not in tenant.apps:
            problems.append((f"streams.{i}.app", f"tenant {s.tenant!r} has no app {s.app!r}"))
        if s.lane not in config.lanes:
            problems.append((f"streams.{i}.lane", f"unknown lane {s.lane!r}"))
        if s.sensitivity not in config.data_classes:
            problems.append((f"streams.{i}.sensitivity", f"unknown data class {s.sensitivity!r}"))
    for i, incident in enumerate(loaded.scenario.incidents):
        model = getattr(incident, "model", None)
        if model is not None and model not in config.pricing:
            problems.append((f"incidents.{i}.model", f"model {model!r} is not in the config's pricing"))
        provider = getattr(incident, "provider", None)
        if provider is not None and provider not in config.providers:
            problems.append((f"incidents.{i}.provider", f"unknown provider {provider!r}"))
    side = loaded.scenario.provider
    for i, name in enumerate(side.providers if side else []):
        if name not in config.providers:
            problems.append((f"provider.providers.{i}", f"unknown provider {name!r}"))
    if side is not None:
        targets = [t for r in config.routes.values()
                   for t in [*r.targets, *([r.degrade.target] if r.degrade and r.degrade.target else [])]]
        routed = {t.model for t in targets if t.provider in side.providers}
        for model in sorted(routed - set(side.prices)):
            problems.append(("provider.prices", f"no provider price for {model!r}, which the config "
                             f"routes to {'/'.join(side.providers)}"))
    if problems:
        raise loaded.error(problems)


def apply_patch(loaded: LoadedScenario, index: int, config: Config, patch: dict[str, Any]) -> Config:
    """The config after a policy change: ``patch`` deep-merged into it, validated like any config."""
    document = apply_overlay(config.model_dump(mode="json"), patch)
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        prefix = f"incidents.{index}.patch"
        raise loaded.error([(f"{prefix}.{path}" if path else prefix, reason)
                            for path, reason in validation_problems(exc, _not_a_union_tag)]) from exc


def _not_a_union_tag(loc: Sequence[Any], i: int) -> bool:
    """Pydantic puts the incident kind into error paths (``incidents.0.outage.model``); people don't."""
    return not (loc[i] in INCIDENT_KINDS and i and isinstance(loc[i - 1], int))


def _format(source: str, root: yaml.Node | None, problems: list[tuple[str, str]]) -> str:
    return format_problems(source, root, problems, "scenario")
