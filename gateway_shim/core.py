"""The gateway's functional core: admit → next_target/record_attempt (per call) → finish, one event each.

Used by ``aigw serve`` (one asyncio loop) and ``aigw simulate`` (a virtual clock): every method takes
``now`` (monotonic seconds) from the caller and never reads a clock (a token's expiry is judged at
the request's ``received_at``; only the read-only views default to the wall clock); nothing here locks
or does I/O except calling ``emit`` with the finished event. How each rule decides: docs/policy.md.

Typical driver::

    plan = gw.admit(ctx, now)
    if isinstance(plan, Rejection):
        return respond(plan, gw.reject(ctx, plan, now))
    ticket = gw.lanes.acquire(plan.lane, now)          # saturation: run, queue or shed (a Rejection)
    ...                                  # shed: gw.finish(plan, status_code=shed.status, error=shed)
    while (target := gw.next_target(plan, now)) is not None:
        result = call(target, plan.messages, plan.max_tokens, gw.attempt_timeout(plan, target, now))
        gw.record_attempt(plan, target, result, now)
        if result.ok:
            break
    error = None if result.ok else gw.exhausted(plan)  # also: gw.validate_output(plan, text)
    event = gw.finish(plan, status_code=..., input_tokens=..., output_tokens=..., error=error, now=now)
    gw.lanes.release(ticket, now)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway_shim.config.models import CircuitBreaker as BreakerSettings
from gateway_shim.config.models import Config, Lane
from gateway_shim.policy.allowlist import DataClassRule
from gateway_shim.policy.apps import AppRule
from gateway_shim.policy.authentication import Authenticator
from gateway_shim.policy.budget_ledger import BudgetLedger
from gateway_shim.policy.callers import AuthFailure, Caller
from gateway_shim.policy.cost import MICROS_PER_DAY, PriceBook, month_end_us, month_key
from gateway_shim.policy.dimensions import Dimensions
from gateway_shim.policy.guardrails import MAX_DEPTH, DenyList, Redactor, message_strings
from gateway_shim.policy.load_tests import LOAD_TEST_NOT_ALLOWED, load_test_refusal
from gateway_shim.policy.normalize import fold_for_redaction
from gateway_shim.policy.rate_limit import RateLimiter
from gateway_shim.policy.tokens import estimate_tokens_from_chars, message_text
from gateway_shim.routing.capabilities import missing
from gateway_shim.routing.circuit_breaker import CircuitBreaker
from gateway_shim.routing.degrade import DEGRADED_ACTION, degraded_chain, under_pressure
from gateway_shim.routing.lane_queues import LaneGate
from gateway_shim.routing.retry import is_retryable, retry_delay
from gateway_shim.routing.routes import RouteSpec, RouteTable
from gateway_shim.state.base import StateBackend
from gateway_shim.state.decisions import Decision
from gateway_shim.telemetry.event import EventIds, plan_event, rejection_event
from gateway_shim.types import AttemptResult, Message, Outcome, Plan, Rejection, RequestContext, Target
from gateway_shim.wire.fates import describe_need

Emit = Callable[[dict[str, Any]], None]

AUTO_MODELS = frozenset({"", "auto", "default", "aigw"})
"""``model`` values that mean "let the route decide"."""

_MEMO_LIMIT = 4096


@dataclass(slots=True, frozen=True)
class _Tenant:
    id: str
    team: str
    lanes: frozenset[str]
    budget_usd: float
    degrade_at_pct: float | None
    apps: AppRule


@dataclass(slots=True)
class _Chain:
    """A route's targets for one (sensitivity, model asked for, degraded) and its worst price per day:
    (per input token, per output token, per request, per input image)."""

    targets: tuple[Target, ...]
    worst_rates: dict[int, tuple[float, float, float, float]]
    window: int = 1 << 62
    """The smallest context window among the targets: a prompt below it needs no per-target check."""

    def __post_init__(self) -> None:
        windows = [t.context_window for t in self.targets if t.context_window is not None]
        if windows:
            self.window = min(windows)


@dataclass(slots=True, frozen=True)
class Screening:
    """What ``Gateway.screen`` found in a prompt; ``admit`` turns it into a refusal or the plan's messages."""

    texts_found: bool = True
    """False: ``messages`` is not a non-empty list of objects."""
    too_deep: bool = False
    input_tokens: int = 0
    denied: str | None = None
    """The first deny pattern the prompt matches."""
    messages: list[Message] = field(default_factory=list)
    """The messages to send: PII redacted (copies only of those changed) when ``actions`` says so."""
    actions: list[str] = field(default_factory=list)
    """``pii_redacted:<kind>`` actions."""


class Gateway:
    """Policy, routing, budget and telemetry for one gateway replica (single-threaded)."""

    def __init__(self, config: Config, *, gateway_id: str, emit: Emit,
                 event_ids: EventIds | None = None, state: StateBackend | None = None) -> None:
        self.config = config
        self.state = state
        """The store shared by the replicas (``state.backend: redis``): ``admit`` then returns a pending
        plan the caller completes with ``conclude(plan, await state.admit(...))``, and ``finish``
        settles its lease there. ``None``: ``budget`` and ``rate_limits`` decide in ``admit`` itself."""
        self.gateway_id = gateway_id
        self.emit = emit
        self.policy_version = config.policy_version
        self.lanes = LaneGate(config.lanes)
        self.budget = BudgetLedger({t: c.monthly_budget_usd for t, c in config.tenants.items()})
        self.rate_limits = RateLimiter({t: c.limits for t, c in config.tenants.items()})
        self.prices = PriceBook(config.pricing)
        self.identity = Authenticator(config.tenants, config.identity.oidc)
        self._tenants = {
            tid: _Tenant(tid, t.team, frozenset(t.lanes), t.monthly_budget_usd, t.degrade_at_budget_pct,
                         AppRule(tid, t.apps, t.enforce_apps))
            for tid, t in config.tenants.items()
        }
        self._lanes: dict[str, Lane] = dict(config.lanes)
        self._rules = {name: DataClassRule(name, dc) for name, dc in config.data_classes.items()}
        self._routes = RouteTable(config.routes, config.providers)
        self._targets = self._routes.targets
        self._model_targets: dict[str, Target] = {}
        for target in self._targets.values():
            self._model_targets.setdefault(target.model, target)
        self.breakers = {
            key: CircuitBreaker(config.providers[target.provider].circuit_breaker)
            for key, target in self._targets.items()
        }
        guardrails = config.guardrails
        self._max_input_tokens = guardrails.max_input_tokens
        self._deny = DenyList(guardrails.deny_patterns)
        self._output_deny = DenyList(guardrails.output_validation.deny_patterns)
        self._redactor = Redactor(guardrails.pii_redaction)
        self._dimensions = Dimensions(config)
        self._default_lane = config.gateway.default_lane
        self._default_sensitivity = config.gateway.default_sensitivity
        self._chains: dict[tuple[str, str, str, bool], _Chain | Rejection] = {}
        self._months: dict[int, int] = {}
        self._ids = event_ids or EventIds()
        self._retries = {name: (p.max_retries, p.retry_base_s, p.retry_max_s)
                         for name, p in config.providers.items() if p.max_retries}
        self._retry_rng = random.Random(f"{gateway_id}/retries")

    # ---- admission -------------------------------------------------------------------------

    def screen(self, messages: object) -> Screening:
        """The prompt's guardrail pass: its text, token estimate, deny patterns and PII redaction.

        Pure and thread-safe (it reads only the immutable guardrail settings), so a large prompt can be
        screened on a worker thread while the event loop serves others; ``admit`` decides on the result.
        """
        texts = _texts_of(messages)
        if texts is None:
            return Screening(texts_found=False)
        assert type(messages) is list  # _texts_of checked it
        joined = texts[0] if len(texts) == 1 else "\n".join(texts)
        scanned = _scanned_text(messages, joined)
        if scanned is None:
            return Screening(too_deep=True, messages=messages)
        # Every text field counts (names, tool-call arguments, tool results go upstream too), so the
        # input cap also bounds what the guardrails scan.
        input_tokens = estimate_tokens_from_chars(len(scanned), len(texts))
        if input_tokens > self._max_input_tokens:
            return Screening(input_tokens=input_tokens, messages=messages)
        scanned = fold_for_redaction(scanned)
        denied = self._deny.first_match(scanned) if self._deny else None
        if denied is not None:
            return Screening(input_tokens=input_tokens, denied=denied, messages=messages)
        if self._redactor.might_match(scanned):
            redacted, actions = self._redactor.redact_messages(messages)
            if actions:
                return Screening(input_tokens=input_tokens, messages=redacted, actions=actions)
        return Screening(input_tokens=input_tokens, messages=messages)


    def admit(self, ctx: RequestContext, now: float, screening: Screening | None = None) -> Plan | Rejection:
        """Decide before any call: auth, load-test run id, contract, lane, guardrails, allowlist,
        rate limits, budget, degrade.

        ``screening``: ``screen(ctx.messages)`` done beforehand (off the event loop for a large
        prompt); without it admit screens the prompt itself. A ``Rejection`` is not emitted here:
        pass it to ``reject`` (which emits its event).
        """
        if not ctx.api_key:
            return Rejection(401, "missing_api_key", "no API key: send 'Authorization: Bearer <key>'",
                             "client_error", "authentication_error")
        caller = self.identity.identify(ctx.api_key, ctx.received_at / 1e6)
        if isinstance(caller, AuthFailure):
            return Rejection(401, caller.code, caller.message, "client_error", "authentication_error")
        tenant_id = caller.tenant_id
        tenant = self._tenants[tenant_id]
        if caller.app_id is not None or caller.user_id is not None or caller.team is not None:
            tenant = _as_claimed(ctx, tenant, caller)
        lane_name = ctx.latency_class or self._default_lane
        sensitivity = ctx.sensitivity or self._default_sensitivity
        load_test_refused = load_test_refusal(caller, ctx.run_id)
        if load_test_refused is not None:
            return self._refuse(tenant, lane_name, sensitivity, 403, LOAD_TEST_NOT_ALLOWED, load_test_refused,
                                "blocked", "permission_error")
        lane = self._lanes.get(lane_name)
        if lane is None:
            return self._refuse(tenant, None, sensitivity, 400, "invalid_latency_class",
                                f"unknown latency class {lane_name!r}; expected one of "
                                f"{', '.join(sorted(self._lanes))}", "client_error")
        rule = self._rules.get(sensitivity)
        if rule is None:
            return self._refuse(tenant, lane_name, None, 400, "invalid_sensitivity",
                                f"unknown sensitivity {sensitivity!r}; expected one of "
                                f"{', '.join(sorted(self._rules))}", "client_error")
        if lane_name not in tenant.lanes:
            return self._refuse(tenant, lane_name, sensitivity, 403, "lane_not_allowed",
                                f"tenant {tenant.id!r} may use lanes {sorted(tenant.lanes)}, "
                                f"not {lane_name!r}", "blocked", "permission_error")
        # An app named by the company's identity provider is its word, not the client's: not checked.
        app_refused = None if caller.app_id is not None else tenant.apps.refusal(ctx.app_id)
        if app_refused is not None:
            return self._refuse(tenant, lane_name, sensitivity, 403, "app_not_allowed", app_refused,
                                "blocked", "permission_error")
        screening = screening if screening is not None else self.screen(ctx.messages)
        if not screening.texts_found:
            return self._refuse(tenant, lane_name, sensitivity, 400, "invalid_messages",
                                "'messages' must be a non-empty list of message objects", "client_error")
        if ctx.max_tokens is not None and (type(ctx.max_tokens) is not int or ctx.max_tokens < 1):
            return self._refuse(tenant, lane_name, sensitivity, 400, "invalid_max_tokens",
                                "'max_tokens' must be a positive integer", "client_error")
        if screening.too_deep:
            return self._refuse(tenant, lane_name, sensitivity, 400, "invalid_messages",
                                f"a message nests deeper than {MAX_DEPTH} levels", "client_error")
        input_tokens = screening.input_tokens
        if input_tokens > self._max_input_tokens:
            return self._refuse(tenant, lane_name, sensitivity, 413, "input_too_large",
                                f"the prompt is about {input_tokens} tokens; the limit is "
                                f"{self._max_input_tokens}", "client_error", input_tokens=input_tokens)
        denied = screening.denied
        if denied is not None:
            return self._refuse(tenant, lane_name, sensitivity, 403, "blocked",
                                f"the prompt matches deny pattern {denied!r}", "blocked",
                                "permission_error", input_tokens=input_tokens,
                                validation="blocked", actions=[f"deny:{denied}"])
        messages = screening.messages
        actions = screening.actions
        validation = "modified" if actions else "passed"

        route = self._routes.select(ctx.workflow, lane_name)
        requested = ctx.model_requested or ""
        day = ctx.received_at // MICROS_PER_DAY
        month = self._months.get(day)
        if month is None:
            month = self._months[day] = month_key(day)
        degraded = route.degradable and under_pressure(
            (self.budget if self.state is None else self.state).committed(tenant_id, month),
            tenant.budget_usd, tenant.degrade_at_pct)
        chain = self._chain(route, rule, requested, degraded)
        if isinstance(chain, Rejection):
            return self._refuse(tenant, lane_name, sensitivity, chain.status, chain.code, chain.message,
                                chain.outcome, chain.error_type, input_tokens=input_tokens,
                                validation=validation, actions=actions, route=route.name)
        targets = chain.targets
        if ctx.needs or input_tokens > chain.window:
            capable = self._capable(targets, ctx.needs, input_tokens)
            if isinstance(capable, str):
                return self._refuse(tenant, lane_name, sensitivity, 400, "capability_unavailable",
                                    f"no target of route {route.name!r} can serve this request: {capable}",
                                    "client_error", input_tokens=input_tokens, validation=validation,
                                    actions=actions, route=route.name)
            targets = capable
        max_tokens = lane.max_output_tokens
        if ctx.max_tokens is not None and ctx.max_tokens < max_tokens:
            max_tokens = ctx.max_tokens
        if degraded:
            actions = [*actions, DEGRADED_ACTION]
            cap = route.degrade_max_output_tokens
            if cap is not None and cap < max_tokens:
                max_tokens = cap

        rates = chain.worst_rates.get(day)
        if rates is None:
            rates = chain.worst_rates[day] = self._worst_rates(chain.targets, day)
        reservation = input_tokens * rates[0] + max_tokens * rates[1] + rates[2]
        if ctx.input_images:
            reservation += ctx.input_images * rates[3]
        if self.state is None:  # else the shared store decides both, in ``conclude``
            limited = self.rate_limits.acquire(tenant_id, input_tokens, now)
            if limited is not None:
                return self._rate_limited(tenant, lane_name, sensitivity, *limited, input_tokens, validation,
                                          actions, route.name)
            if not self.budget.try_reserve(tenant_id, month, reservation):
                return self._over_budget(ctx, tenant, lane_name, sensitivity, month, reservation,
                                         input_tokens, validation, actions, route.name,
                                         self.budget.spent(tenant_id, month),
                                         self.budget.reserved(tenant_id, month))

        plan = Plan.admitted(ctx, tenant_id, tenant.team, lane_name, sensitivity, route.name, targets,
                             max_tokens, messages, input_tokens, lane.timeout_s, now + lane.timeout_s,
                             lane.priority, reservation, month, actions, validation, degraded)
        if targets is not chain.targets and targets[0] is not chain.targets[0]:
            plan.fallback_reason = "capability"
        return plan

    @staticmethod
    def _capable(targets: tuple[Target, ...], needs: tuple[str, ...],
                 input_tokens: int) -> tuple[Target, ...] | str:
        """The targets that can serve the request's needs, in chain order; when none can, what each
        lacks (for the 400)."""
        capable = []
        lacking = []
        for target in targets:
            gaps = missing(target, needs, input_tokens)
            if gaps:
                named = ", ".join(describe_need(g) for g in dict.fromkeys(gaps))
                lacking.append(f"{target.key} lacks {named}")
            else:
                capable.append(target)
        return tuple(capable) if capable else "; ".join(lacking)

    def _chain(self, route: RouteSpec, rule: DataClassRule, requested: str,
               degraded: bool) -> _Chain | Rejection:
        key = (route.name, rule.name, requested, degraded)
        found = self._chains.get(key)
        if found is None:
            found = self._build_chain(route, rule, requested, degraded)
            if len(self._chains) >= _MEMO_LIMIT:
                self._chains.clear()
            self._chains[key] = found
        return found

    def _build_chain(self, route: RouteSpec, rule: DataClassRule, requested: str,
                     degraded: bool) -> _Chain | Rejection:
        eligible = tuple(t for t in route.targets if rule.allows(t))
        if requested not in AUTO_MODELS:
            target = self._resolve_model(requested)
            if target is None:
                return Rejection(400, "model_not_found",
                                 f"model {requested!r} is not offered by this gateway; available: "
                                 f"{', '.join(sorted(self._model_targets))}", "client_error")
            if not rule.allows(target):
                return Rejection(403, "model_not_allowed",
                                 f"model {target.key!r} is not allowed: {rule.describe()}",
                                 "blocked", "permission_error")
            return _Chain((target, *(t for t in eligible if t is not target)), {})
        if degraded and route.degrade_target is not None and rule.allows(route.degrade_target):
            eligible = degraded_chain(eligible, route.degrade_target, self._unit_price)
        if not eligible:
            return Rejection(403, "sensitivity_not_routable",
                             f"route {route.name!r} has no target for this data: {rule.describe()}",
                             "blocked", "permission_error")
        return _Chain(eligible, {})

    def _resolve_model(self, requested: str) -> Target | None:
        """A model name (or ``provider/model``) the client asked for → the interned target serving it."""
        target = self._targets.get(requested)
        if target is not None:
            return target
        return self._model_targets.get(requested)

    def _unit_price(self, target: Target) -> float:
        """Input plus output USD per token today's-agnostic: the latest price, for ranking only."""
        rates = self.prices.rates(target.model, 1 << 30)
        return rates[0] + rates[1] if rates is not None else 0.0

    def _worst_rates(self, targets: tuple[Target, ...], day: int) -> tuple[float, float, float, float]:
        """The highest of each price among the targets: the reservation covers whichever serves."""
        worst_in = worst_out = worst_request = worst_image = 0.0
        for target in targets:
            rates = self.prices.rates(target.model, day)
            fees = self.prices.fees(target.model, day)
            if rates is not None and fees is not None:
                worst_in = max(worst_in, rates[0])
                worst_out = max(worst_out, rates[1])
                worst_request = max(worst_request, fees[0])
                worst_image = max(worst_image, fees[1])
        return worst_in, worst_out, worst_request, worst_image

    def conclude(self, plan: Plan, decision: Decision) -> Rejection | None:
        """The shared store's answer for a plan ``admit`` left pending: ``None`` = admitted (the plan
        holds the lease), else the refusal to pass to ``reject`` (429 rate or budget, 503 store down)."""
        plan.state_degraded = decision.degraded
        if decision.lease is not None:
            plan.lease = decision.lease
            return None
        tenant = self._tenants[plan.tenant_id]
        if plan.team != tenant.team:  # the team a company token claimed (``_as_claimed``)
            tenant = replace(tenant, team=plan.team)
        refusal = decision.refusal
        args = (plan.input_tokens, plan.validation_result, plan.guardrail_actions, plan.route)
        if refusal == "budget_exceeded":
            rejection = self._over_budget(plan.ctx, tenant, plan.lane, plan.sensitivity, plan.month,
                                          plan.reservation_usd, *args, decision.spent_usd,
                                          decision.reserved_usd)
        elif refusal == "state_unavailable":
            rejection = self._refuse(
                tenant, plan.lane, plan.sensitivity, 503, "state_unavailable",
                "the store of shared budgets and rate limits is unreachable and this gateway is "
                f"configured to refuse meanwhile; retry in {decision.retry_after_s:.1f} s",
                "upstream_error", "server_error", input_tokens=plan.input_tokens,
                validation=plan.validation_result, actions=plan.guardrail_actions, route=plan.route,
                retry_after=decision.retry_after_s)
        else:
            rejection = self._rate_limited(tenant, plan.lane, plan.sensitivity, str(refusal),
                                           decision.retry_after_s, *args)
        rejection.state_degraded = decision.degraded
        return rejection

    def _rate_limited(self, tenant: _Tenant, lane: str, sensitivity: str, which: str, wait_s: float,
                      input_tokens: int, validation: str, actions: list[str], route: str) -> Rejection:
        return self._refuse(tenant, lane, sensitivity, 429, "rate_limited",
                            f"tenant {tenant.id!r} is over its {which} limit; retry in {wait_s:.1f} s",
                            "throttled", "rate_limit_error", input_tokens=input_tokens,
                            validation=validation, actions=actions, route=route, retry_after=wait_s)

    def _over_budget(self, ctx: RequestContext, tenant: _Tenant, lane: str, sensitivity: str, month: int,
                     reservation: float, input_tokens: int, validation: str, actions: list[str],
                     route: str, spent: float, held: float) -> Rejection:
        if spent + reservation > tenant.budget_usd:
            retry_after = max(1.0, (month_end_us(month) - ctx.received_at) / 1e6)
            why = f"month-to-date spend ${spent:.2f}"
        else:
            retry_after = 1.0
            why = f"month-to-date spend ${spent:.2f} plus ${held:.2f} in flight"
        return self._refuse(tenant, lane, sensitivity, 429, "budget_exceeded",
                            f"tenant {tenant.id!r}: {why} and this request's worst case ${reservation:.4f} "
                            f"exceed the monthly budget ${tenant.budget_usd:.2f}", "budget_exceeded",
                            "insufficient_quota", input_tokens=input_tokens, validation=validation,
                            actions=actions, route=route, retry_after=retry_after)

    @staticmethod
    def _refuse(tenant: _Tenant, lane: str | None, sensitivity: str | None, status: int, code: str,
                message: str, outcome: Outcome, error_type: str = "invalid_request_error", *,
                input_tokens: int | None = None, validation: str | None = None,
                actions: list[str] | None = None, route: str | None = None,
                retry_after: float | None = None) -> Rejection:
        return Rejection(
            status=status, code=code, message=message, outcome=outcome, error_type=error_type,
            retry_after=retry_after, tenant_id=tenant.id, team=tenant.team, lane=lane,
            sensitivity=sensitivity, route=route, input_tokens=input_tokens,
            validation_result=validation, guardrail_actions=actions if actions is not None else [],
        )

    def reject(self, ctx: RequestContext, rejection: Rejection, now: float, *,
               total_ms: float | None = None) -> dict[str, Any]:
        """Emit and return the event of a request refused before any upstream call (its dimensions
        bounded to the config's values, ``policy/dimensions.py``)."""
        ctx, rejection = self._dimensions.bound(ctx, rejection)
        event = rejection_event(ctx, rejection, event_id=self._ids.next(), gateway_id=self.gateway_id,
                                policy_version=self.policy_version, total_ms=total_ms)
        self.emit(event)
        return event

    # ---- attempts --------------------------------------------------------------------------

    def next_target(self, plan: Plan, now: float) -> Target | None:
        """The next target to call, skipping those whose breaker is open; ``None`` = chain exhausted.

        Also ``None`` once the lane's deadline has passed (the request then fails as a timeout).
        """
        if now >= plan.deadline:
            if plan.cursor < len(plan.targets) or plan.last_failure is None:
                plan.last_failure = "timeout"
            plan.cursor = len(plan.targets)
            return None
        targets = plan.targets
        index = plan.cursor
        while index < len(targets):
            target = targets[index]
            index += 1
            if self._breaker(target).allow(now):
                plan.cursor = index
                return target
            if plan.fallback_reason is None:
                plan.fallback_reason = "circuit_open"
        plan.cursor = index
        return None

    def attempt_timeout(self, plan: Plan, target: Target, now: float) -> float:
        """Seconds this attempt may take: the lane's remaining time, capped by the provider's timeout."""
        remaining = plan.deadline - now
        return max(0.0, remaining if remaining < target.timeout_s else target.timeout_s)

    def record_attempt(self, plan: Plan, target: Target, result: AttemptResult, now: float) -> None:
        """Count the attempt and feed the target's circuit breaker."""
        plan.attempts += 1
        plan.served = target
        self._breaker(target).record(result.ok, now)
        if not result.ok:
            plan.last_failure = result.reason or "error"
            if plan.fallback_reason is None:
                plan.fallback_reason = plan.last_failure
            self._plan_retry(plan, target, result, now)

    def _plan_retry(self, plan: Plan, target: Target, result: AttemptResult, now: float) -> None:
        """Point the chain back at ``target`` after a retryable failure while its provider's
        ``max_retries`` and the lane's time allow (``retry_wait`` says how long to wait first)."""
        settings = self._retries.get(target.provider)
        retries, plan.target_retries = plan.target_retries, 0
        if settings is None or not is_retryable(result) or retries >= settings[0]:
            return
        delay = retry_delay(retries + 1, settings[1], settings[2], result.retry_after, plan.deadline - now,
                            self._retry_rng)
        if delay is None:
            return
        plan.target_retries = retries + 1
        plan.retry_at = now + delay
        plan.cursor -= 1

    def retry_wait(self, plan: Plan, now: float) -> float:
        """Seconds to wait before the next attempt (a same-target retry's backoff); 0 = go now."""
        return plan.retry_at - now if plan.retry_at > now else 0.0

    def _breaker(self, target: Target) -> CircuitBreaker:
        breaker = self.breakers.get(target.key)
        if breaker is None:
            provider = self.config.providers.get(target.provider)
            settings = provider.circuit_breaker if provider is not None else BreakerSettings()
            breaker = self.breakers[target.key] = CircuitBreaker(settings)
        return breaker

    def exhausted(self, plan: Plan) -> Rejection:
        """The 502/503/504 answer once every target failed or was skipped."""
        reason = plan.last_failure
        tried = f"route {plan.route!r} ({len(plan.targets)} targets, {plan.attempts} attempts)"
        if reason == "timeout":
            status, code, message = 504, "upstream_timeout", f"{tried}: timed out"
        elif reason is None:
            status, code, message = 503, "upstream_unavailable", f"{tried}: every circuit breaker is open"
        elif reason in ("throttle", "outage"):
            status, code, message = 503, "upstream_unavailable", f"{tried}: last failure {reason}"
        else:
            status, code, message = 502, "upstream_error", f"{tried}: last failure {reason}"
        return Rejection(status, code, message, "upstream_error", "server_error",
                         retry_after=1.0 if status == 503 else None, tenant_id=plan.tenant_id,
                         team=plan.team, lane=plan.lane, sensitivity=plan.sensitivity, route=plan.route)

    def validate_output(self, plan: Plan, text: str) -> Rejection | None:
        """Output guardrails on the model's answer; a ``Rejection`` (403 blocked) withholds it."""
        if not self._output_deny:
            return None
        denied = self._output_deny.first_match(text)
        if denied is None:
            return None
        plan.output_blocked = True
        plan.validation_result = "blocked"
        plan.guardrail_actions = [*plan.guardrail_actions, f"output_blocked:{denied}"]
        return Rejection(403, "output_blocked", f"the answer matches output deny pattern {denied!r}",
                         "blocked", "permission_error", tenant_id=plan.tenant_id, team=plan.team,
                         lane=plan.lane, sensitivity=plan.sensitivity, route=plan.route)

    # ---- settlement ------------------------------------------------------------------------

    def finish(
        self,
        plan: Plan,
        status_code: int,
        now: float,
        input_tokens: int | None = None,
        output_tokens: int = 0,
        inference_ms: float | None = None,
        ttft_ms: float | None = None,
        total_ms: float | None = None,
        gateway_overhead_ms: float | None = None,
        streamed: bool | None = None,
        error: Rejection | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        tool_calls: int | None = None,
        priced: bool = True,
    ) -> dict[str, Any]:
        """Settle the budget to the actual cost, emit and return the event (also for failures).

        ``input_tokens``/``output_tokens`` are the provider's usage (``None`` = no usage: the event
        shows the gateway's estimate and nothing is charged). ``error`` says why an admitted request
        failed (``exhausted``, a shed or queue timeout from ``lanes``, ``validate_output``); its
        outcome and code go into the event. The usage details (cache read/write and reasoning tokens,
        the answer's tool calls) go into the event as the provider reported them (``None`` = not
        reported). ``priced=False`` (an operation the price book cannot price) records cost NULL and
        charges nothing. Finishing a plan twice raises ``RuntimeError``.
        """
        if plan.finished:
            raise RuntimeError("plan already finished")
        plan.finished = True
        served = plan.served
        day = plan.ctx.received_at // MICROS_PER_DAY
        if input_tokens is None:
            billed_in, event_in = 0, plan.input_tokens
        else:
            billed_in = event_in = input_tokens
        cost: float | None = 0.0
        tokens_delta = 0
        state = self.state
        if not priced:
            cost = None
        elif served is not None and (billed_in or output_tokens):
            cost = self.prices.cost(served.model, day, billed_in, output_tokens,
                                    (cache_read_tokens or 0) if billed_in else 0,
                                    (cache_write_tokens or 0) if billed_in else 0,
                                    plan.ctx.input_images if billed_in else 0)
            tokens_delta = billed_in + output_tokens - plan.input_tokens
            if state is None:
                self.rate_limits.charge(plan.tenant_id, tokens_delta, now)
        if state is None:
            self.budget.settle(plan.tenant_id, plan.month, plan.reservation_usd, cost or 0.0)
        elif plan.lease is not None:  # a plan the store refused (or never answered) holds nothing
            state.settle_soon(plan.lease, cost or 0.0, tokens_delta)
        if error is not None:
            outcome: str = error.outcome
            error_type: str | None = error.code
        elif status_code < 400:
            outcome, error_type = "ok", None
        else:
            outcome, error_type = _outcome_of(status_code), f"http_{status_code}"
        event = plan_event(
            plan, self._ids.next(), self.gateway_id, self.policy_version, status_code, outcome, error_type,
            event_in, output_tokens, cost, inference_ms, ttft_ms, total_ms, gateway_overhead_ms,
            plan.ctx.stream if streamed is None else streamed, cache_read_tokens, cache_write_tokens,
            reasoning_tokens, tool_calls,
        )
        self.emit(event)
        return event

    def take_over(self, previous: Gateway) -> None:
        """Continue from ``previous`` (a policy reload): month-to-date spend and in-flight
        reservations, rate-limit buckets (under the new budgets and limits), lane occupancy when the
        lanes are unchanged, circuit breakers whose provider settings are unchanged, and the shared
        store (given the new budgets and limits). Plans admitted by ``previous`` settle into the same
        ledger or store. The identity provider's signing keys carry over while the JWKS URL is
        unchanged."""
        self.identity.take_keys(previous.identity)
        self.budget = previous.budget
        self.budget.set_budgets({t: c.monthly_budget_usd for t, c in self.config.tenants.items()})
        self.rate_limits = previous.rate_limits
        self.rate_limits.set_limits({t: c.limits for t, c in self.config.tenants.items()})
        if previous.config.lanes == self.config.lanes:
            self.lanes = previous.lanes
        self.state = previous.state
        if self.state is not None:
            self.state.set_policy({t: c.monthly_budget_usd for t, c in self.config.tenants.items()},
                                  {t: c.limits for t, c in self.config.tenants.items()})
        for key, breaker in previous.breakers.items():
            provider = key.split("/", 1)[0]
            before = previous.config.providers.get(provider)
            after = self.config.providers.get(provider)
            if before is not None and after is not None and before.circuit_breaker == after.circuit_breaker:
                self.breakers[key] = breaker

    # ---- read-only views for front doors ----------------------------------------------------

    def tenant_for_key(self, api_key: str, received_at: int | None = None) -> str | None:
        """The tenant of a key or token (``received_at``: epoch µs; default now, for a token's expiry)."""
        caller = self.identity.identify(api_key, _epoch_s(received_at))
        return caller.tenant_id if isinstance(caller, Caller) else None

    def available_models(self, api_key: str | None, sensitivity: str | None = None,
                         received_at: int | None = None) -> list[str] | None:
        """Models a key may ask for at a sensitivity (default: the config's); ``None`` = unknown key."""
        if not api_key or self.tenant_for_key(api_key, received_at) is None:
            return None
        rule = self._rules.get(sensitivity or self._default_sensitivity)
        if rule is None:
            return []
        return sorted({t.model for t in self._targets.values() if rule.allows(t)})


def _as_claimed(ctx: RequestContext, tenant: _Tenant, caller: Caller) -> _Tenant:
    """A token's mapped claims win over the request's headers (and its team over the tenant's)."""
    if caller.app_id is not None:
        ctx.app_id = caller.app_id
    if caller.user_id is not None:
        ctx.user_id = caller.user_id
    if caller.team is None or caller.team == tenant.team:
        return tenant
    return _Tenant(tenant.id, caller.team, tenant.lanes, tenant.budget_usd, tenant.degrade_at_pct,
                   tenant.apps)


def _epoch_s(received_at: int | None) -> float:
    return time.time() if received_at is None else received_at / 1e6


def screened_chars(messages: object) -> int:
    """How many characters ``Gateway.screen`` would scan (its cost grows with them; binary payloads such
    as a base64 image are never scanned): decides whether a prompt is screened off the event loop."""
    if type(messages) is not list:
        return 0
    total = 0
    for message in messages:
        strings = message_strings(message)
        if strings is None:  # nests too deep: refused before any scan
            return 0
        total += sum(map(len, strings))
    return total


def _texts_of(messages: object) -> list[str] | None:
    """Each message's text, or ``None`` unless ``messages`` is a non-empty list of objects."""
    if type(messages) is not list or not messages:
        return None
    texts = []
    for message in messages:
        if type(message) is not dict:
            return None
        content = message.get("content")
        texts.append(content if type(content) is str else message_text(message))
    return texts


def _scanned_text(messages: list[Message], joined: str) -> str | None:
    """All free text of the prompt for the guardrails; ``None`` when a message nests too deep.

    When every message is just ``role`` and string ``content`` (the usual case) that is ``joined``.
    """
    if all(len(m) == 2 and "role" in m and type(m.get("content")) is str for m in messages):
        return joined
    strings: list[str] = []
    for message in messages:
        found = message_strings(message)
        if found is None:
            return None
        strings.extend(found)
    return "\n".join(strings)


def _outcome_of(status: int) -> str:
    if status >= 500:
        return "upstream_error"
    if status == 429:
        return "throttled"
    if status == 403:
        return "blocked"
    return "client_error"
