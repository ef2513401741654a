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

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    field_validator,
    model_serializer,
    model_validator,
)

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
    load_tests: StrictBool = False
    """This key may mark its traffic as load-test traffic (a run id starting with ``lt-``), which the
    cost marts and budget seeding leave out of the tenant's spend; any other key gets 403
    ``load_test_not_allowed`` for such a run id (docs/security.md, "Load-test traffic")."""

    @model_serializer(mode="wrap")
    def _without_default_permission(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """``load_tests`` only when granted: documents written before it keep their policy version."""
        dumped: dict[str, object] = handler(self)
        if not self.load_tests:
            dumped.pop("load_tests", None)
        return dumped

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
    api_keys: list[ApiKey] = []
    """Empty only when ``identity.oidc`` maps tokens to the tenant (checked in ``Config``)."""
    monthly_budget_usd: PositiveFloat
    limits: TenantLimits
    lanes: list[str] = Field(min_length=1)
    degrade_at_budget_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    enforce_apps: bool = True
    """``x-aigw-app`` must be one of ``apps`` (403 ``app_not_allowed`` otherwise)."""


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


class Capabilities(Strict):
    """What a target can serve, where the shipped catalog (``gateway_shim/routing/capabilities.py``)
    does not know its model or is wrong about it; an unset key keeps the catalog's value."""

    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None
    context_window: PositiveInt | None = None


class Target(Strict):
    provider: str
    model: str
    capabilities: Capabilities | None = None

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
    unknown_fields: Literal["forward", "refuse"] = "forward"
    """Request fields the gateway does not know: forwarded to this provider when it speaks the
    request's format, or the provider is skipped (400 when no target is left)."""
    max_retries: Annotated[int, Field(ge=0, le=10)] = 0
    """Same-target retries after a 429, 5xx or dropped connection, before falling back."""
    retry_base_s: PositiveFloat = 0.1
    retry_max_s: PositiveFloat = 2.0


class Price(Strict):
    """USD per million tokens (and per request, per input image) from ``effective_from`` on. Cache
    reads and writes default to the input price; reasoning tokens are billed as output, as providers
    do; an image is charged ``input_image_usd`` on top of its tokens, for providers that bill per image."""

    effective_from: dt.date
    input_per_mtok: Annotated[float, Field(ge=0)]
    output_per_mtok: Annotated[float, Field(ge=0)]
    cache_read_per_mtok: Annotated[float, Field(ge=0)] | None = None
    cache_write_per_mtok: Annotated[float, Field(ge=0)] | None = None
    per_request_usd: Annotated[float, Field(ge=0)] = 0.0
    input_image_usd: Annotated[float, Field(ge=0)] = 0.0


class DenyPattern(Strict):
    name: str
    regex: str

    @field_validator("regex")
    @classmethod
    def _linear_time(cls, value: str) -> str:
        """Only patterns RE2 runs (in time linear in the text): no backreferences, no lookarounds."""
        options = re2.Options()
        options.log_errors = False
        try:
            re2.compile(value, options)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            raise ValueError(f"pattern {value!r} cannot run in linear time (RE2 refuses it: {reason}); "
                             "backreferences and lookarounds are not supported") from None
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
    on_spool_full: Literal["serve", "refuse"] = "serve"
    """When events cannot be made durable (spool disk full or failing): ``serve`` answers anyway
    (losses counted and recorded in a gap record), ``refuse`` answers 503."""


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


class Identity(Strict):
    """Who an IAM identity that calls Bedrock directly belongs to (for spend outside the gateway)."""

    team: str
    description: str | None = None


class Reconciliation(Strict):
    """Where the provider's own records are, to reconcile the gateway's figures with them.

    A folder or ``s3://bucket/prefix`` each; empty means inside the lake (``provider/invocation-logs``
    and ``provider/focus``). ``providers`` are the gateway providers whose calls Bedrock logs and bills
    (default: those of kind ``bedrock`` and one named ``bedrock``); their events are attributed to
    ``account_id`` and the provider's region.
    """

    invocation_logs: str = ""
    billing: str = ""
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    providers: list[str] | None = None


JWT_ALGORITHMS = ("RS256", "ES256")
"""Asymmetric only: a gateway must never hold a secret that could also mint tokens (HS*), and
``none`` would accept anything."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class OidcClaims(Strict):
    """Which token claim names the tenant, team, app and user (a name, or a dotted path into nested
    objects; a list-valued claim is searched for a value that maps to a tenant)."""

    tenant: str
    team: str | None = None
    app: str | None = None
    user: str | None = "sub"


class OidcLoadTests(Strict):
    """Which tokens may mark their traffic as load-test traffic: those whose ``claim`` (a name or a
    dotted path) is ``value``, or a list holding it (a role or group granted to the load-test runner)."""

    claim: str = Field(min_length=1)
    value: str = Field(min_length=1)


class Oidc(Strict):
    """The company identity provider: tokens it signs reach tenants as API keys do (docs/policy.md)."""

    issuer: str = Field(min_length=1)
    audience: str | list[str]
    jwks_url: str
    algorithms: list[str] = Field(default=list(JWT_ALGORITHMS), min_length=1)
    max_clock_skew_s: Annotated[float, Field(ge=0, le=300)] = 60
    claims: OidcClaims
    tenants: dict[str, str] | None = None
    """Claim value → tenant id; ``None``: the claim value is the tenant id itself."""
    jwks_refresh_s: Annotated[float, Field(ge=60, le=86_400)] = 3600
    jwks_min_refresh_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30
    jwks_fetch_timeout_s: Annotated[float, Field(gt=0, le=30)] = 3
    load_tests: OidcLoadTests | None = None
    """``None``: no token may mark load-test traffic (only API keys with ``load_tests: true``)."""

    @model_serializer(mode="wrap")
    def _without_default_permission(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """``load_tests`` only when set: documents written before it keep their policy version."""
        dumped: dict[str, object] = handler(self)
        if self.load_tests is None:
            dumped.pop("load_tests", None)
        return dumped

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        refused = [alg for alg in value if alg not in JWT_ALGORITHMS]
        if refused:
            accepted = ", ".join(JWT_ALGORITHMS)
            raise ValueError(f"{', '.join(map(repr, refused))} not accepted: only {accepted} "
                             "(asymmetric signatures; 'none' and HS* are refused)")
        return value

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: str | list[str]) -> str | list[str]:
        if not value or (isinstance(value, list) and not all(value)):
            raise ValueError("must be a non-empty string or a list of non-empty strings")
        return value

    @field_validator("jwks_url")
    @classmethod
    def _https(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else \
            rest.split("]", 1)[0] + "]"
        if not sep or not host:
            raise ValueError(f"{value!r} is not a URL")
        if scheme != "https" and not (scheme == "http" and host in LOOPBACK_HOSTS):
            raise ValueError("must be https:// (plain http:// only for a loopback address)")
        return value


class IdentitySettings(Strict):
    oidc: Oidc | None = None


class OtlpExport(Strict):
    """Where the optional OpenTelemetry exporter sends spans and metrics (OTLP over HTTP/protobuf)."""

    endpoint: str
    """The collector's base URL (``http://collector:4318``): ``/v1/traces`` and ``/v1/metrics`` follow."""
    headers: dict[str, str] = {}
    """Non-secret headers only (this document is stored in the lake); secrets go in
    ``OTEL_EXPORTER_OTLP_HEADERS``, which the SDK reads itself."""
    service_name: str = Field(default="aigw", min_length=1)
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 10
    metric_interval_s: Annotated[float, Field(ge=1, le=3600)] = 60

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if scheme not in ("http", "https") or not sep or not rest.strip("/"):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        if rest.rstrip("/").endswith(("/v1/traces", "/v1/metrics")):
            raise ValueError("give the collector's base URL; /v1/traces and /v1/metrics are added")
        return value.rstrip("/")


class TelemetrySettings(Strict):
    otlp: OtlpExport | None = None
    """Off unless set here or by ``OTEL_EXPORTER_OTLP_ENDPOINT`` (docs/telemetry.md)."""


ADDED_SECTIONS = ("state", "identity", "telemetry", "identities", "reconciliation")


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
    identities: dict[str, Identity] = {}
    reconciliation: Reconciliation = Reconciliation()
    identity: IdentitySettings = IdentitySettings()
    telemetry: TelemetrySettings = TelemetrySettings()

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
        owners: dict[str, str] = {}
        for name, tenant in self.tenants.items():
            for i, key in enumerate(tenant.api_keys):
                where = f"tenants.{name}.api_keys.{i}"
                first = owners.setdefault(key.sha256, where)
                if first != where:
                    owner = first.split(".")[1]
                    errors.append(f"{where}.sha256: the same key hash as {first} (tenant {owner!r}); "
                                  f"a key must belong to one tenant, or requests are charged to {name!r}")
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
        for i, provider in enumerate(self.reconciliation.providers or []):
            if provider not in self.providers:
                errors.append(f"reconciliation.providers.{i}: unknown provider {provider!r}")
        errors.extend(self._identity_problems())
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

    def _identity_problems(self) -> list[str]:
        oidc = self.identity.oidc
        errors: list[str] = []
        reachable: set[str] = set()
        if oidc is not None:
            if oidc.tenants is None:
                reachable = set(self.tenants)
            for value, tenant_id in (oidc.tenants or {}).items():
                if tenant_id not in self.tenants:
                    errors.append(f"identity.oidc.tenants.{value}: unknown tenant {tenant_id!r}")
                reachable.add(tenant_id)
        for name, tenant in self.tenants.items():
            if not tenant.api_keys and name not in reachable:
                errors.append(f"tenants.{name}.api_keys: no API key, and no identity.oidc.tenants entry "
                              "maps a token to this tenant")
        return errors

    def canonical_json(self) -> str:
        """The document in one canonical form: what the policy version hashes and `policies/` stores.

        Sections added after the first release are left out while at their defaults, so upgrading
        aigw does not change the version of an unchanged document."""
        unset = {name for name in ADDED_SECTIONS
                 if getattr(self, name) == type(self).model_fields[name].default}
        return json.dumps(self.model_dump(mode="json", exclude=unset), sort_keys=True, separators=(",", ":"))

    @cached_property
    def policy_version(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]

    def bedrock_providers(self) -> list[str]:
        """The providers whose calls Bedrock logs and bills (``reconciliation.providers`` or the default)."""
        listed = self.reconciliation.providers
        if listed is not None:
            return listed
        return [name for name, p in self.providers.items() if p.kind == "bedrock" or name == "bedrock"]

    def price_on(self, model: str, day: dt.date) -> Price | None:
        """The price in force on ``day``: the latest entry whose effective_from is not after it."""
        in_force = [p for p in self.pricing.get(model, []) if p.effective_from <= day]
        return max(in_force, key=lambda p: p.effective_from) if in_force else None
