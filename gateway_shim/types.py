"""Plain data passed between the front doors (server, simulator) and the core (`gateway_shim.core`).

Slotted dataclasses, no pydantic: these are built once or more per request on the hot path. The
hot-path builders are named constructors beside their dataclass (``RequestContext.arrived``,
``Plan.admitted``): every field a parameter in field order, passed positionally (a keyword costs
~35 ns on CPython 3.11, 18 of them 0.6 µs a request) and stored straight into the slots, which is
faster than the generated ``__init__``. tests/gateway_shim/test_types.py pins both orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from gateway_shim.state.decisions import Lease

_new = object.__new__

Message = dict[str, Any]
"""An OpenAI-style chat message: ``{"role": ..., "content": str | list[{"type": "text", "text": ...}]}``."""

FailureReason = Literal["error", "throttle", "timeout", "outage", "connect"]
TEXT_ONLY: tuple[str, ...] = ("text",)
"""The modalities of a text-only request (the common case, shared rather than rebuilt)."""
Outcome = Literal["ok", "blocked", "throttled", "budget_exceeded", "upstream_error", "client_error"]


@dataclass(slots=True)
class RequestContext:
    """What the front door learned from the request: auth, contract (headers or body metadata), body.

    ``None`` means "not given"; the core applies the config's defaults (lane, sensitivity).
    """

    api_key: str | None
    messages: list[Message]
    received_at: int
    """Epoch microseconds (UTC) when the request arrived: the event's ``ts`` and the day it is priced on."""
    trace_id: str = ""
    model_requested: str = ""
    max_tokens: int | None = None
    stream: bool = False
    workflow: str | None = None
    app_id: str | None = None
    user_id: str | None = None
    sensitivity: str | None = None
    latency_class: str | None = None
    budget_class: str | None = None
    prompt_version: str | None = None
    retrieval_ms: float | None = None
    run_id: str | None = None
    body_bytes: int = 0
    operation: str = "chat"
    """The OTel ``gen_ai.operation.name`` of the front door (``chat``, ``embeddings``, ...)."""
    modalities: tuple[str, ...] = TEXT_ONLY
    """The kinds of content the request carries (``text``, ``image``, ``audio``, ...), sorted."""
    needs: tuple[str, ...] = ()
    """What a target must offer to serve it: capabilities, wire-only fields (``wire/fates.py``)."""
    body: dict[str, Any] | None = None
    """The client's parsed body, forwarded (same wire) or translated (other wire) by the upstream client."""
    wire: str = "openai"
    """The body's wire format: ``openai`` or ``converse``."""
    input_images: int = 0
    """Images the request sends (``gateway_shim/wire/images.py``): what a per-image price multiplies."""

    @staticmethod
    def arrived(
        api_key: str | None, messages: list[Message], received_at: int, trace_id: str, model_requested: str,
        max_tokens: int | None, stream: bool, workflow: str | None, app_id: str | None, user_id: str | None,
        sensitivity: str | None, latency_class: str | None, budget_class: str | None,
        prompt_version: str | None, retrieval_ms: float | None, run_id: str | None, body_bytes: int,
        operation: str, modalities: tuple[str, ...], needs: tuple[str, ...], body: dict[str, Any] | None,
        wire: str, input_images: int,
    ) -> RequestContext:
        """Every field, in field order: the simulator builds one per arrival."""
        ctx: RequestContext = _new(RequestContext)
        ctx.api_key = api_key
        ctx.messages = messages
        ctx.received_at = received_at
        ctx.trace_id = trace_id
        ctx.model_requested = model_requested
        ctx.max_tokens = max_tokens
        ctx.stream = stream
        ctx.workflow = workflow
        ctx.app_id = app_id
        ctx.user_id = user_id
        ctx.sensitivity = sensitivity
        ctx.latency_class = latency_class
        ctx.budget_class = budget_class
        ctx.prompt_version = prompt_version
        ctx.retrieval_ms = retrieval_ms
        ctx.run_id = run_id
        ctx.body_bytes = body_bytes
        ctx.operation = operation
        ctx.modalities = modalities
        ctx.needs = needs
        ctx.body = body
        ctx.wire = wire
        ctx.input_images = input_images
        return ctx


@dataclass(slots=True, frozen=True)
class Target:
    """One provider/model a route may call; ``timeout_s`` is the provider's own per-call cap.

    ``wire`` is the format its provider speaks; ``capabilities`` what it can serve (``None``: not
    declared, assumed able), ``context_window`` its input limit in tokens (``None``: unknown),
    ``forwards_unknown`` whether unknown request fields may go to it (its provider's ``unknown_fields``).
    """

    provider: str
    model: str
    timeout_s: float = 60.0
    wire: str = "openai"
    capabilities: frozenset[str] | None = None
    context_window: int | None = None
    forwards_unknown: bool = True
    key: str = field(init=False, compare=False, repr=False)
    """``provider/model``: names the circuit breaker and the ``x-aigw-route`` style display."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider}/{self.model}")


@dataclass(slots=True)
class Rejection:
    """A refusal: the HTTP answer plus what the event needs to say about it.

    ``code`` is the OpenAI-style ``error.code`` and the event's ``error_type``;
    ``retry_after`` (seconds) becomes the ``Retry-After`` header, rounded up.
    """

    status: int
    code: str
    message: str
    outcome: Outcome
    error_type: str = "invalid_request_error"
    """OpenAI-style ``error.type`` (``invalid_request_error``, ``authentication_error``, ...)."""
    retry_after: float | None = None
    tenant_id: str | None = None
    team: str | None = None
    lane: str | None = None
    sensitivity: str | None = None
    route: str | None = None
    input_tokens: int | None = None
    validation_result: str | None = None
    guardrail_actions: list[str] = field(default_factory=list)
    state_degraded: bool = False
    """Refused by a decision taken without the shared store (the event's ``state_degraded``)."""

    def error_body(self) -> dict[str, dict[str, str]]:
        """The OpenAI-style error JSON for the response body."""
        return {"error": {"type": self.error_type, "code": self.code, "message": self.message}}


@dataclass(slots=True, frozen=True)
class AttemptResult:
    """How one upstream call ended. ``reason`` is set when ``ok`` is false."""

    ok: bool
    status: int | None = None
    reason: FailureReason | None = None
    retry_after: float | None = None
    """Seconds the provider asked to wait (``Retry-After``), when it did."""

    @staticmethod
    def success() -> AttemptResult:
        return _SUCCESS

    @staticmethod
    def failure(reason: FailureReason, status: int | None = None,
                retry_after: float | None = None) -> AttemptResult:
        return AttemptResult(False, status, reason, retry_after)


_SUCCESS = AttemptResult(True, 200, None)


@dataclass(slots=True)
class Plan:
    """An admitted request: who, which lane and route, the ordered targets to try, and the budget held.

    The core mutates the cursor and attempt fields as ``next_target``/``record_attempt`` are called;
    the caller reads ``targets``, ``messages``, ``max_tokens``, ``timeout_s``/``deadline`` and ``served``.
    """

    ctx: RequestContext
    tenant_id: str
    team: str
    lane: str
    sensitivity: str
    route: str
    targets: tuple[Target, ...]
    max_tokens: int
    """Output cap for the upstream call: min(client's max_tokens, lane cap, degrade cap)."""
    messages: list[Message]
    """The prompt as it goes upstream (redacted when ``validation_result == "modified"``)."""
    input_tokens: int
    """The gateway's cheap estimate of the prompt's tokens (what rate limits and reservation used)."""
    timeout_s: float
    """The lane's timeout for the whole request, all attempts included."""
    deadline: float
    """``now`` at admission + ``timeout_s``, on the caller's monotonic clock."""
    priority: int
    reservation_usd: float
    month: int
    """Budget month key (year * 12 + month - 1) the reservation is held in."""
    guardrail_actions: list[str] = field(default_factory=list)
    validation_result: str = "passed"
    degraded: bool = False
    attempts: int = 0
    cursor: int = 0
    fallback_reason: str | None = None
    last_failure: FailureReason | None = None
    served: Target | None = None
    """The target of the latest attempt (the one that answered, when it succeeded)."""
    output_blocked: bool = False
    finished: bool = False
    retry_at: float = 0.0
    """When the pending same-target retry may start (the caller waits until then); 0 = no wait."""
    target_retries: int = 0
    """Retries made on the target tried last (``served``); starts again at 0 on the next target."""
    lease: Lease | None = None
    """The shared store's reservation (``state.backend: redis``), set by ``Gateway.conclude``."""
    state_degraded: bool = False
    """Admitted without the shared store (Redis unreachable): the event's ``state_degraded``."""

    @staticmethod
    def admitted(
        ctx: RequestContext, tenant_id: str, team: str, lane: str, sensitivity: str, route: str,
        targets: tuple[Target, ...], max_tokens: int, messages: list[Message], input_tokens: int,
        timeout_s: float, deadline: float, priority: int, reservation_usd: float, month: int,
        guardrail_actions: list[str], validation_result: str, degraded: bool,
    ) -> Plan:
        """The fields decided at admission, in field order; the attempt fields start as the defaults."""
        plan: Plan = _new(Plan)
        plan.ctx = ctx
        plan.tenant_id = tenant_id
        plan.team = team
        plan.lane = lane
        plan.sensitivity = sensitivity
        plan.route = route
        plan.targets = targets
        plan.max_tokens = max_tokens
        plan.messages = messages
        plan.input_tokens = input_tokens
        plan.timeout_s = timeout_s
        plan.deadline = deadline
        plan.priority = priority
        plan.reservation_usd = reservation_usd
        plan.month = month
        plan.guardrail_actions = guardrail_actions
        plan.validation_result = validation_result
        plan.degraded = degraded
        plan.attempts = 0
        plan.cursor = 0
        plan.fallback_reason = None
        plan.last_failure = None
        plan.served = None
        plan.output_blocked = False
        plan.finished = False
        plan.retry_at = 0.0
        plan.target_retries = 0
        plan.lease = None
        plan.state_degraded = False
        return plan

    @property
    def fallback_used(self) -> bool:
        """Served by another target than the route's first choice (also when that one was skipped
        at admission for lack of a capability)."""
        return self.served is not None and (self.served is not self.targets[0]
                                            or self.fallback_reason == "capability")
