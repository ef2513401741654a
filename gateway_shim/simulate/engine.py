"""The virtual clock: arrivals, lanes and upstream calls as a discrete-event simulation.

Every request goes through the gateway's own ``Gateway`` (admit → lanes → next_target →
record_attempt → finish) and the in-process ``SimulatedModel``, exactly the calls ``aigw serve``
makes, but ``now`` is virtual: a heap of attempt completion times replaces waiting. Single-threaded
and seeded, so a run is reproducible event for event (ids included).
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.routing.lane_queues import QUEUED, RUNNING, Ticket
from gateway_shim.simulate.incidents import Action, Schedule
from gateway_shim.simulate.prompts import PromptBook
from gateway_shim.simulate.traffic import HOUR_S, Arrival, TrafficModel
from gateway_shim.simulated_provider.answers import cached_tokens, calls_a_tool
from gateway_shim.simulated_provider.faults import FaultSet
from gateway_shim.simulated_provider.simulated_model import SimResponse, SimulatedModel
from gateway_shim.telemetry.event import EventIds
from gateway_shim.types import TEXT_ONLY, AttemptResult, Plan, Rejection, RequestContext, Target

Emit = Callable[[dict[str, Any]], None]
Served = Callable[[float, Plan, Target, SimResponse], None]
"""Called when the simulated provider has served a call (with the virtual time the call reached it),
whatever the gateway then makes of it (a timeout, a refused output): what the provider logs and bills."""
Progress = Callable[[int, int], None]
"""Called after each virtual hour with (hours done, events so far)."""

INF = float("inf")


@dataclass(slots=True, frozen=True)
class RunSpec:
    start: dt.date
    days: int
    seed: int
    scale: float
    gateway_id: str
    run_id: str
    identity: str
    """A digest of everything that shapes the run: seeds the event and trace ids."""


@dataclass(slots=True)
class Stats:
    arrivals: int = 0
    events: int = 0
    policy_versions: list[str] = field(default_factory=list)


TOOLS = ("tools",)
"""What an agent stream's requests need of their target."""


@dataclass(slots=True, eq=False)
class _Request:
    gateway: Gateway
    ctx: RequestContext
    plan: Plan
    arrived: float
    input_tokens: int
    digest: int
    ticket: Ticket | None = None
    target: Target | None = None
    response: SimResponse | None = None
    result: AttemptResult | None = None
    started: float = 0.0  # when the current attempt reached the provider


class Simulation:
    """One run: build it, then ``run()``; events go to ``emit`` as they finish."""

    def __init__(self, spec: RunSpec, traffic: TrafficModel, schedule: Schedule, emit: Emit,
                 *, api_keys: dict[str, str], prompt_text: str | None = None,
                 on_served: Served | None = None) -> None:
        self.spec = spec
        self._on_served = on_served
        self.traffic = traffic
        self.schedule = schedule
        self.stats = Stats()
        self._emit = emit
        self._origin = dt.datetime.combine(spec.start, dt.time(), tzinfo=dt.UTC).timestamp()
        self._overhead_ms = traffic.scenario.gateway_overhead_ms
        self._ids = random.Random(f"{spec.identity}:ids")
        self._event_ids = EventIds(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        self._model_rng = random.Random(f"{spec.seed}:model")
        self.model = SimulatedModel(seed=spec.seed, faults=FaultSet())
        self.gateway = self._new_gateway(schedule.configs[0])
        self._gates = [self.gateway.lanes]
        self._heap: list[tuple[float, int, _Request]] = []
        self._seq = 0
        self._queued = 0
        self._actions = [(self._origin + a.at, a) for a in schedule.actions]
        self._next_action = 0
        scenario = traffic.scenario
        self._prompts = PromptBook(scenario.streams,
                                   compact=(prompt_text or scenario.prompt_text) == "compact")
        self._version = [s.prompt_version for s in scenario.streams]
        self._factor = [1.0 for _ in scenario.streams]
        self._contract = [
            (api_keys[s.tenant], s.app, s.workflow or None, s.lane, s.sensitivity, s.budget_class,
             s.model_requested, s.max_tokens, s.pii_share, s.pii_share + s.injection_share)
            for s in scenario.streams
        ]
        self._operation = [s.operation for s in scenario.streams]
        self._source_stream = [s.stream for s in traffic.sources]
        self._needs: list[tuple[str, ...]] = [TOOLS if s.tools else () for s in scenario.streams]

    # -- driving ----------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Stats:
        hours = self.spec.days * 24
        hour_fn = self.traffic.hour
        advance, arrive = self._advance, self._arrive
        origin = self._origin
        for hour in range(hours):
            for arrival in hour_fn(hour):
                now = origin + arrival[0]
                advance(now)
                arrive(arrival, now)
            advance(origin + (hour + 1) * HOUR_S)
            if progress is not None:
                progress(hour + 1, self.stats.events)
        self._advance(INF)
        return self.stats

    def _advance(self, until: float) -> None:
        """Process every completion and scheduled action up to ``until``, in time order."""
        heap, actions = self._heap, self._actions
        while True:
            next_call = heap[0][0] if heap else INF
            next_action = actions[self._next_action][0] if self._next_action < len(actions) else INF
            if self._queued:
                self._expire_queue(min(next_call, next_action, until))
            if next_action <= next_call:
                if next_action > until or next_action == INF:
                    return
                self._next_action += 1
                self._apply(actions[self._next_action - 1][1], next_action)
            else:
                if next_call > until:
                    return
                _, _, request = heapq.heappop(heap)
                self._attempt_done(request, next_call)

    # -- one request ------------------------------------------------------------------------------

    def _arrive(self, arrival: Arrival, now: float) -> None:
        self.stats.arrivals += 1
        _, source, user, streamed, tokens, retrieval, probe, digest = arrival
        stream = self._source_stream[source]
        (key, app, workflow, lane, sensitivity, budget_class, model_requested, max_tokens,
         pii_until, injection_until) = self._contract[stream]
        factor = self._factor[stream]
        if factor != 1.0:
            tokens = max(1, round(tokens * factor))
        flavour = 1 if probe < pii_until else 2 if probe < injection_until else 0
        messages = self._prompts.messages(stream, tokens, flavour)
        ctx = RequestContext.arrived(
            key, messages, round(now * 1_000_000), f"{self._ids.getrandbits(128):032x}", model_requested,
            max_tokens, streamed, workflow, app, user, sensitivity, lane, budget_class,
            self._version[stream] or None, retrieval if retrieval >= 0 else None, self.spec.run_id,
            tokens * 4 + 200, self._operation[stream], TEXT_ONLY, self._needs[stream], None, "openai", 0,
        )
        gateway = self.gateway
        plan = gateway.admit(ctx, now)
        if isinstance(plan, Rejection):
            gateway.reject(ctx, plan, now, total_ms=self._overhead_ms)
            return
        request = _Request(gateway, ctx, plan, now, tokens, digest)
        ticket = gateway.lanes.acquire(plan.lane, now, request)
        if isinstance(ticket, Rejection):
            self._finish(request, now, error=ticket)
            return
        request.ticket = ticket
        if ticket.state == QUEUED:
            self._queued += 1
        else:
            self._start_attempt(request, now)

    def _start_attempt(self, request: _Request, now: float) -> None:
        gateway, plan = request.gateway, request.plan
        target = gateway.next_target(plan, now)
        if target is None:
            self._finish(request, now, error=gateway.exhausted(plan))
            return
        now += gateway.retry_wait(plan, now)  # a same-target retry starts after its backoff
        timeout = gateway.attempt_timeout(plan, target, now)
        response = self.model.respond_to(target.model, request.input_tokens, request.digest, plan.max_tokens,
                                         now, self._model_rng)
        if request.ctx.operation == "embeddings" and response.output_tokens:
            # An embedding generates no tokens: it answers at once, at the first token's time, as the
            # live provider does (decoding output it never produces once made its 99th percentile 17 s
            # and let a few time out at the gateway while the provider served and billed them).
            response = replace(response, output_tokens=0, total_ms=response.ttft_ms)
        seconds = response.total_ms / 1000.0
        if response.kind != "ok":
            result = AttemptResult.failure(response.kind, response.status)
        elif seconds > timeout:
            result, seconds = AttemptResult.failure("timeout", 504), timeout
        else:
            result = AttemptResult.success()
        request.target, request.response, request.result = target, response, result
        request.started = now
        self._seq += 1
        heapq.heappush(self._heap, (now + seconds, self._seq, request))

    def _attempt_done(self, request: _Request, now: float) -> None:
        gateway, plan = request.gateway, request.plan
        target, result = request.target, request.result
        assert target is not None and result is not None
        gateway.record_attempt(plan, target, result, now)
        if self._on_served is not None and request.response is not None and request.response.kind == "ok":
            self._on_served(request.started, plan, target, request.response)
        if not result.ok:
            self._start_attempt(request, now)
            return
        response = request.response
        assert response is not None
        refused = gateway.validate_output(plan, response.text)
        self._finish(request, now, error=refused, response=response)

    def _finish(self, request: _Request, now: float, *, error: Rejection | None,
                response: SimResponse | None = None) -> None:
        gateway = request.gateway
        overhead = self._overhead_ms
        total_ms = (now - request.arrived) * 1000.0 + overhead
        if response is not None and error is None:
            ttft = total_ms - response.total_ms + response.ttft_ms
            # Positional on the common path (keywords cost ~35 ns each); test_core pins finish's order.
            # An embedding reads no prompt cache and calls no tool (its output tokens are 0 already).
            cached = 0 if request.ctx.operation == "embeddings" else cached_tokens(response.input_tokens,
                                                                                     request.digest)
            agent = bool(request.ctx.needs)
            gateway.finish(request.plan, 200, now, response.input_tokens, response.output_tokens,
                           response.total_ms, ttft, total_ms, overhead, request.ctx.stream, None, cached,
                           None, None, int(agent and calls_a_tool(request.digest)))
        else:
            assert error is not None
            gateway.finish(
                request.plan, status_code=error.status, now=now,
                input_tokens=response.input_tokens if response is not None else None,
                output_tokens=response.output_tokens if response is not None else 0,
                inference_ms=response.total_ms if response is not None else None,
                total_ms=total_ms, gateway_overhead_ms=overhead, streamed=request.ctx.stream, error=error,
            )
        ticket = request.ticket
        if ticket is not None and ticket.state == RUNNING:
            following = gateway.lanes.release(ticket, now)
            if following is not None:
                self._queued -= 1
                self._start_attempt(following.payload, now)  # type: ignore[arg-type]

    def _expire_queue(self, now: float) -> None:
        for gate in self._gates:
            for ticket in gate.expire(now):
                self._queued -= 1
                request: _Request = ticket.payload  # type: ignore[assignment]
                self._finish(request, ticket.deadline, error=gate.queue_timeout(ticket))

    # -- incidents --------------------------------------------------------------------------------

    def _apply(self, action: Action, now: float) -> None:
        if action.kind == "fault_on":
            assert action.fault is not None
            self.model.faults.set(action.fault)
        elif action.kind == "fault_off":
            self.model.faults.clear(action.model)
        elif action.kind == "policy":
            assert action.config is not None
            self._change_policy(action.config)
        elif action.kind == "rollout":
            self._version[action.stream] = action.prompt_version
            self._factor[action.stream] = action.input_tokens_factor

    def _change_policy(self, config: Config) -> None:
        """Requests admitted from now on see the new policy; those in flight finish under the old one."""
        successor = self._new_gateway(config)
        successor.take_over(self.gateway)
        if successor.lanes is not self.gateway.lanes:
            self._gates.append(successor.lanes)
        self.gateway = successor

    def _new_gateway(self, config: Config) -> Gateway:
        self.stats.policy_versions.append(config.policy_version)
        # Event ids from the run's seed (the core's own are random per process), one sequence for
        # every policy version.
        return Gateway(config, gateway_id=self.spec.gateway_id, emit=self._count_and_emit,
                       event_ids=self._event_ids)

    def _count_and_emit(self, event: dict[str, Any]) -> None:
        self.stats.events += 1
        self._emit(event)

