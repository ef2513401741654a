"""Typed policy configuration (docs/config.md). Unknown keys are errors everywhere.

Cross-references (a route naming an unknown provider, a tenant naming an unknown lane, a target
without a price) are checked in ``Config._check_references`` so a bad document fails at load time,
never at request time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway_shim.config.yaml_document import PROBLEMS_SEPARATOR

LANES = ("interactive", "standard", "batch")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class ApiKey(Strict):
    name: str
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not SHA256_HEX.match(value):
            raise ValueError("must be 64 lowercase hex characters (sha256 of the key)")
        return value


class TenantLimits(Strict):
    requests_per_min: PositiveInt
    tokens_per_min: PositiveInt


class Tenant(Strict):
    team: str
    apps: list[str] = Field(min_length=1)
    api_keys: list[ApiKey] = Field(min_length=1)
    monthly_budget_usd: PositiveFloat
    limits: TenantLimits
    lanes: list[str] = Field(min_length=1)
    degrade_at_budget_pct: Annotated[float, Field(gt=0, le=100)] | None = None


class DataClass(Strict):
    """Where data of this sensitivity may go: providers ("*" = any) and optionally named models."""

    providers: list[str] = Field(min_length=1)
    models: list[str] | None = None


class Slo(Strict):
    latency_ms: PositiveFloat
    percentile: Annotated[float, Field(gt=0, lt=100)] = 95
    availability: Annotated[float, Field(gt=0, lt=1)]


class Lane(Strict):
    timeout_s: PositiveFloat
    max_output_tokens: PositiveInt
    priority: Annotated[int, Field(ge=0)]
    max_concurrency: PositiveInt
    max_queue: Annotated[int, Field(ge=0)]
    queue_timeout_ms: Annotated[float, Field(ge=0)]
    slo: Slo


class Target(Strict):
    provider: str
    model: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


def _parse_target(value: object) -> object:
    if isinstance(value, str):
        provider, sep, model = value.partition("/")
        if not sep or not provider or not model:
            raise ValueError(f"target {value!r} must be 'provider/model'")
        return {"provider": provider, "model": model}
    return value


class RouteMatch(Strict):
    workflows: list[str] | None = None
    lanes: list[str] | None = None


class Degrade(Strict):
    """Cheaper path under budget or saturation pressure."""

    target: Target | None = None
    max_output_tokens: PositiveInt | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: object) -> object:
        return _parse_target(value)


class Route(Strict):
    match: RouteMatch = RouteMatch()
    targets: list[Target] = Field(min_length=1)
    degrade: Degrade | None = None

    @field_validator("targets", mode="before")
    @classmethod
    def _targets(cls, value: object) -> object:
        return [_parse_target(v) for v in value] if isinstance(value, list) else value


class CircuitBreaker(Strict):
    window_s: PositiveFloat = 30
    min_requests: PositiveInt = 10
    failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    open_s: PositiveFloat = 15
    half_open_probes: PositiveInt = 3


class Provider(Strict):
    kind: Literal["simulated", "openai", "bedrock"]
    endpoint: str | None = None
    region: str | None = None
    api_key_env: str | None = None
    connect_timeout_s: PositiveFloat = 2
    timeout_s: PositiveFloat = 60
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    max_retries: Annotated[int, Field(ge=0, le=10)] = 0
    """Same-target retries after a 429, 5xx or dropped connection, before falling back."""
    retry_base_s: PositiveFloat = 0.1
    retry_max_s: PositiveFloat = 2.0


class Price(Strict):
    """USD per million tokens (and per request) from ``effective_from`` on. Cache reads and writes
    default to the input price; reasoning tokens are billed as output, as providers do."""

    effective_from: dt.date
    input_per_mtok: Annotated[float, Field(ge=0)]
    output_per_mtok: Annotated[float, Field(ge=0)]
    cache_read_per_mtok: Annotated[float, Field(ge=0)] | None = None
    cache_write_per_mtok: Annotated[float, Field(ge=0)] | None = None
    per_request_usd: Annotated[float, Field(ge=0)] = 0.0


class DenyPattern(Strict):
    name: str
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class PiiRedaction(Strict):
    email: bool = True
    phone: bool = True
    card: bool = True
    aws_access_key: bool = True


class OutputValidation(Strict):
    deny_patterns: list[DenyPattern] = []


class Guardrails(Strict):
    pii_redaction: PiiRedaction = PiiRedaction()
    deny_patterns: list[DenyPattern] = []
    max_input_tokens: PositiveInt = 32_000
    output_validation: OutputValidation = OutputValidation()


class GatewaySettings(Strict):
    max_body_bytes: PositiveInt = 1_048_576
    default_lane: str = "standard"
    default_sensitivity: str = "internal"


class State(Strict):
    """Where budgets, reservations and rate windows live: this process (``memory``) or Redis (``redis``,
    shared by the replicas); docs/config.md, "state"."""

    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    key_prefix: str = "aigw:"
    on_unavailable: Literal["local_share", "refuse"] = "local_share"
    replicas: PositiveInt = 1
    lease_s: PositiveFloat = 600
    timeout_s: PositiveFloat = 0.5
    probe_s: PositiveFloat = 1.0

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^rediss?://[^/\s]+(/\d+)?$", value):
            raise ValueError(f"{value!r} is not a Redis URL: expected redis://host:port/db")
        return value

    @model_validator(mode="after")
    def _url_for_redis(self) -> State:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend 'redis' needs a url (redis://host:port/db)")
        return self


class Config(Strict):
    version: Literal[1] = 1
    gateway: GatewaySettings = GatewaySettings()
    tenants: dict[str, Tenant] = Field(min_length=1)
    data_classes: dict[str, DataClass] = Field(min_length=1)
    lanes: dict[str, Lane]
    routes: dict[str, Route]
    providers: dict[str, Provider] = Field(min_length=1)
    pricing: dict[str, list[Price]] = Field(min_length=1)
    guardrails: Guardrails = Guardrails()
    state: State = State()

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        errors: list[str] = []
        for lane in self.lanes:
            if lane not in LANES:
                errors.append(f"lanes.{lane}: unknown lane (expected one of {', '.join(LANES)})")
        if "default" not in self.routes:
            errors.append("routes: a route named 'default' is required")
        for name, tenant in self.tenants.items():
            for i, lane in enumerate(tenant.lanes):
                if lane not in self.lanes:
                    errors.append(f"tenants.{name}.lanes.{i}: unknown lane {lane!r}")
        for name, data_class in self.data_classes.items():
            for i, provider in enumerate(data_class.providers):
                if provider != "*" and provider not in self.providers:
                    errors.append(f"data_classes.{name}.providers.{i}: unknown provider {provider!r}")
            for i, model in enumerate(data_class.models or []):
                if model not in self.pricing:
                    errors.append(f"data_classes.{name}.models.{i}: model {model!r} has no pricing entry")
        for name, route in self.routes.items():
            for i, lane in enumerate(route.match.lanes or []):
                if lane not in self.lanes:
                    errors.append(f"routes.{name}.match.lanes.{i}: unknown lane {lane!r}")
            degrade = [route.degrade.target] if route.degrade and route.degrade.target else []
            for where, target in [*((f"targets.{i}", t) for i, t in enumerate(route.targets)),
                                  *(("degrade.target", t) for t in degrade)]:
                if target.provider not in self.providers:
                    errors.append(f"routes.{name}.{where}: unknown provider {target.provider!r}")
                if target.model not in self.pricing:
                    errors.append(f"routes.{name}.{where}: model {target.model!r} has no pricing entry")
        for model, prices in self.pricing.items():
            days = [p.effective_from for p in prices]
            if len(set(days)) != len(days):
                errors.append(f"pricing.{model}: two entries share an effective_from date")
        if self.gateway.default_lane not in self.lanes:
            errors.append(f"gateway.default_lane: unknown lane {self.gateway.default_lane!r}")
        if self.gateway.default_sensitivity not in self.data_classes:
            sensitivity = self.gateway.default_sensitivity
            errors.append(f"gateway.default_sensitivity: unknown data class {sensitivity!r}")
        longest = max((lane.timeout_s for lane in self.lanes.values()), default=0.0)
        if self.state.lease_s <= longest:
            errors.append(f"state.lease_s: {self.state.lease_s:g} s must exceed the longest lane timeout_s "
                          f"({longest:g} s), or a reservation could lapse while its request still runs")
        if errors:
            raise ValueError(PROBLEMS_SEPARATOR.join(errors))
        return self

    def canonical_json(self) -> str:
        """The document in one canonical form: what the policy version hashes and `policies/` stores.

        A default ``state`` section is left out, so documents written before it existed keep their version.
        """
        document = self.model_dump(mode="json", exclude={"state"} if self.state == State() else None)
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @cached_property
    def policy_version(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]

    def price_on(self, model: str, day: dt.date) -> Price | None:
        """The price in force on ``day``: the latest entry whose effective_from is not after it."""
        in_force = [p for p in self.pricing.get(model, []) if p.effective_from <= day]
        return max(in_force, key=lambda p: p.effective_from) if in_force else None
