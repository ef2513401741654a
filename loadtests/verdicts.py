"""Pass criteria per playbook, judged from two sources: what Locust saw and what the gateway logged,
plus, where faults are injected, a third: the simulated provider's own request counter.

Pure functions over ``RunData`` (client records, telemetry rows, phase marks, provider counter
samples and the gateway's config). Every criterion names its threshold, the measured value and its
source; a missing measurement (no requests of that kind) fails, so an empty or broken run can never pass.
Thresholds and allowances are documented in docs/loadtests.md.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gateway_shim.config.models import CircuitBreaker, Config
from loadtests.measures import between, histogram_gap, inside, percentile, settle_time, share
from loadtests.records import ClientRecord, Phase, ProviderSample, TelemetryRow
from loadtests.request_profiles import BUDGET_SPENDER

Source = Literal["locust", "telemetry", "provider"]

TELEMETRY_COMPLETENESS = 0.99
"""Share of client-observed responses that must have a gateway event with the run's id."""
LOCUST_STATS_AGREEMENT = 0.01
"""Allowed gap between Locust's own stats CSV and the request log, as a share of the requests, on top
of one request per user: requests still finishing when Locust snapshots its final CSV are in the log
only."""
TELEMETRY_AGREEMENT = 0.02
"""Largest allowed disagreement between the client's and the gateway's (lane, status) counts."""
FALLBACK_ALLOWANCE_MS = 1000.0
"""Extra interactive p95 allowed during the fallback playbook: one failed attempt plus a retry."""
CLOSE_ALLOWANCE_S = 5.0
"""Time beyond the breaker's ``open_s`` for half-open probes to succeed and close it."""
PROVIDER_AGREEMENT = 0.02
"""Allowed gap between the provider's and the telemetry's count of calls to the primary, as a share of
them, on top of one call per user (requests in flight at the first or last counter sample)."""
MIN_SUCCESS = 0.99
RECOVERY_S = 30.0
INTERACTIVE_SHED_MAX = 0.01
SHED_CODES = frozenset({"lane_shed", "lane_saturated", "queue_timeout", "rate_limited"})


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    threshold: str
    measured: float | int | str | None
    passed: bool
    source: Source
    unit: str = ""
    """Of ``measured``: "ratio" (a share, shown as a percentage), "ms", "s", "requests", "req/s", "USD"..."""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "threshold": self.threshold, "measured": self.measured,
                "passed": self.passed, "source": self.source, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class RunData:
    scenario: str
    config: Config
    client: list[ClientRecord]
    telemetry: list[TelemetryRow]
    phases: list[Phase]
    users: int
    locust_totals: tuple[int, int] | None = None
    """(requests, failures) from Locust's stats CSV; ``None`` when judging fabricated records only."""
    provider: tuple[ProviderSample, ...] = ()
    """The simulated provider's counters sampled through the run (fallback and circuit playbooks)."""
    replicas: int = 1
    """Gateways the load was spread over (a fleet when > 1: each must have logged its share)."""

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def all_phases(self, name: str) -> list[Phase]:
        return [p for p in self.phases if p.name == name]

    @property
    def end(self) -> float:
        stop = self.phase("stop")
        if stop is not None:
            return stop.t
        times = [r.t for r in self.client] + [r.t for r in self.telemetry]
        return max(times) + 1.0 if times else 0.0


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _unit_word(suffix: str) -> str:
    """" ms" -> "ms"; " requests skipping the primary" -> "requests"; "" -> ""."""
    words = suffix.split()
    return words[0] if words and not words[0].startswith("(") else ""


def at_most(name: str, measured: float | None, limit: float, source: Source, unit: str = "") -> Criterion:
    passed = measured is not None and measured <= limit
    return Criterion(name, f"<= {limit:g}{unit}", _round(measured), passed, source, _unit_word(unit))


def at_least(name: str, measured: float | None, limit: float, source: Source, unit: str = "") -> Criterion:
    passed = measured is not None and measured >= limit
    return Criterion(name, f">= {limit:g}{unit}", _round(measured), passed, source, _unit_word(unit))


def percent(ratio: float) -> str:
    """0.995 -> "99.5 %"."""
    return f"{100 * ratio:.4g} %"


def share_at_most(name: str, measured: float | None, limit: float, source: Source) -> Criterion:
    """A share (0..1) that must not exceed ``limit``; the threshold reads as a percentage."""
    passed = measured is not None and measured <= limit
    return Criterion(name, f"<= {percent(limit)}", _round(measured, 6), passed, source, "ratio")


def share_at_least(name: str, measured: float | None, limit: float, source: Source) -> Criterion:
    """A share (0..1) that must reach ``limit`` (1 = every one of them)."""
    passed = measured is not None and measured >= limit
    return Criterion(name, f">= {percent(limit)}", _round(measured, 6), passed, source, "ratio")


def refused_as_designed(scenario: str, record: ClientRecord) -> bool:
    """A non-2xx answer the playbook provokes on purpose: saturation's sheds (with ``Retry-After``) and
    the budget playbook's stops. Any other failure is unexpected."""
    if scenario == "saturation":
        return _shed(record) and bool(record.retry_after)
    if scenario == "budget":
        return record.code == "budget_exceeded" and record.status == 429
    return False


def verdict(criteria: list[Criterion]) -> Literal["pass", "fail"]:
    return "pass" if criteria and all(c.passed for c in criteria) else "fail"


def judge(run: RunData) -> list[Criterion]:
    """Every criterion of ``run.scenario``, then the cross-checks between the two sources."""
    try:
        scenario = JUDGES[run.scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {run.scenario!r}; known: {', '.join(sorted(JUDGES))}") from None
    return [*scenario(run), *cross_checks(run)]


# ---- both sources ---------------------------------------------------------------------------------

def cross_checks(run: RunData) -> list[Criterion]:
    """The gateway's telemetry must account for what the client saw: a lying gateway fails here."""
    answered = [r for r in run.client if r.status > 0]
    complete = len(run.telemetry) / len(answered) if answered else None
    client_counts = Counter((r.lane, r.status) for r in answered)
    gateway_counts = Counter((r.lane, r.status) for r in run.telemetry)
    gap = histogram_gap(client_counts, gateway_counts) if answered else None
    checks = [at_least("requests_sent", len(run.client), 1, "locust")]
    if run.locust_totals is not None:
        requests, failures = run.locust_totals
        logged, logged_failures = len(run.client), sum(1 for r in run.client if not r.ok)
        differences = abs(requests - logged) + abs(failures - logged_failures)
        in_flight = run.users or max((int(p.detail.get("users", 0)) for p in run.phases), default=0)
        slack = in_flight + LOCUST_STATS_AGREEMENT * logged
        checks.append(at_most("locust_stats_match_log", differences if requests else None, round(slack, 1),
                              "locust", " requests"))
    if run.replicas > 1:
        reporting = len({r.gateway for r in run.telemetry if r.gateway})
        checks.append(at_least("replicas_reporting", reporting, run.replicas, "telemetry",
                               " gateways with events in the lake"))
    return [
        *checks,
        share_at_least("telemetry_complete", complete, TELEMETRY_COMPLETENESS, "telemetry"),
        share_at_most("telemetry_matches_client", gap, TELEMETRY_AGREEMENT, "telemetry"),
    ]


def _lanes(run: RunData) -> list[str]:
    return sorted({r.lane for r in run.client if r.lane in run.config.lanes})


def _ok_p(records: list[ClientRecord], pct: float) -> float | None:
    return percentile((r.ms for r in records if r.ok), pct)


# ---- steady ---------------------------------------------------------------------------------------

def judge_steady(run: RunData) -> list[Criterion]:
    """Each lane's error rate within its availability SLO and its latency percentile within target."""
    criteria = []
    for lane in _lanes(run):
        slo = run.config.lanes[lane].slo
        records = [r for r in run.client if r.lane == lane]
        errors = share(records, lambda r: not r.ok)
        criteria.append(share_at_most(f"{lane}_error_rate", errors, round(1 - slo.availability, 6), "locust"))
        criteria.append(at_most(f"{lane}_p{slo.percentile:g}_ms", _ok_p(records, slo.percentile),
                                slo.latency_ms, "locust", " ms"))
    if not criteria:
        criteria.append(Criterion("lanes_exercised", ">= 1 lane", 0, False, "locust"))
    return criteria


# ---- fallback -------------------------------------------------------------------------------------

def _primary(run: RunData) -> str:
    for phase in run.phases:
        model = phase.detail.get("model")
        if isinstance(model, str):
            return model
    return ""


def _breaker_settings(config: Config, model: str) -> CircuitBreaker:
    for route in config.routes.values():
        for target in route.targets:
            if target.model == model and target.provider in config.providers:
                return config.providers[target.provider].circuit_breaker
    return CircuitBreaker()


def _skipped_primary(row: TelemetryRow) -> bool:
    return row.fallback_reason == "circuit_open"


def called_primary(row: TelemetryRow, primary: str) -> bool:
    """Did this request call the primary? It did unless the breaker skipped it (routes start with it)."""
    return row.model == primary or (row.attempts >= 1 and not _skipped_primary(row))


def provider_window(run: RunData, model: str, start: float, end: float) -> tuple[float, float, int] | None:
    """Requests ``model`` received by the provider's own count between the first counter samples at
    or after ``start`` and ``end``: (first sample's time, last sample's time, requests); ``None`` when
    the samples do not cover both moments."""
    first = next((p for p in run.provider if p.t >= start), None)
    last = next((p for p in run.provider if p.t >= end), None)
    if first is None or last is None:
        return None
    return first.t, last.t, last.requests.get(model, 0) - first.requests.get(model, 0)


def provider_calls(run: RunData, model: str, start: float, end: float) -> int | None:
    window = provider_window(run, model, start, end)
    return None if window is None else window[2]


def primary_calls_match_provider(run: RunData, primary: str) -> Criterion:
    """The gateway's account of its calls to the primary (events' model, attempts and fallback
    reason) against what the provider received over the sampled span: a gateway that hides calls
    (or claims calls it never made) fails here."""
    slack = float(run.users)
    gap: int | None = None
    if len(run.provider) >= 2:
        start, end = run.provider[0].t, run.provider[-1].t
        received = provider_calls(run, primary, start, end)
        logged = sum(1 for r in run.telemetry if start <= r.t < end and called_primary(r, primary))
        if received is not None and received + logged > 0:
            gap = abs(received - logged)
            slack += PROVIDER_AGREEMENT * max(received, logged)
    return at_most("primary_calls_match_provider", gap, round(slack, 1), "provider",
                   " calls (provider vs telemetry)")


def judge_fallback(run: RunData) -> list[Criterion]:
    primary = _primary(run)
    outage, errors, clear = run.phase("outage"), run.phase("errors"), run.phase("clear")
    if outage is None or errors is None or clear is None or not primary:
        return [Criterion("faults_injected", "outage, errors and clear phases", "missing", False, "locust")]
    breaker = _breaker_settings(run.config, primary)
    lane_slo = run.config.lanes["interactive"].slo
    # The outage is live from its mark (the provider confirmed it) until the next change was sent:
    # only requests sent and answered inside that span must have fallen back.
    down_client = [r for r in inside(run.client, outage.t, _sent(errors)) if r.ok]
    down_events = [r for r in inside(run.telemetry, outage.t, _sent(errors)) if r.ok]
    after_clear = [r for r in between(run.telemetry, clear.t, run.end) if r.ok]
    closed_after = settle_time(after_clear, clear.t, run.end, lambda r: r.fallback_used)
    interactive = [r for r in run.client if r.lane == "interactive"]
    skips = sum(1 for r in between(run.telemetry, outage.t, clear.t) if _skipped_primary(r))
    # While the breaker is open, requests sent from the outage to the clear never reach the primary;
    # without a breaker each does once (give or take one request per user in flight across the
    # edges). Both counts over the same span: the provider's counter samples'.
    window = provider_window(run, primary, outage.t, clear.t)
    skipped_at_provider = None
    if window is not None:
        span_start, span_end, reached = window
        skipped_at_provider = len(between(run.client, span_start, span_end)) - reached
    return [
        share_at_least("success_rate", share(run.client, lambda r: r.ok), MIN_SUCCESS, "locust"),
        share_at_least("fallback_header_during_outage",
                 share(down_client, lambda r: r.fallback and r.model != primary), 1.0, "locust"),
        share_at_least("fallback_used_during_outage",
                 share(down_events, lambda r: r.fallback_used and r.model != primary), 1.0, "telemetry"),
        at_least("breaker_opened", skips, 1, "telemetry", " requests skipping the primary"),
        at_most("breaker_closed_after_clear_s", closed_after, breaker.open_s + CLOSE_ALLOWANCE_S, "telemetry",
                " s"),
        at_least("breaker_opened_at_provider", skipped_at_provider, run.users + 1, "provider",
                 " requests that never reached the primary"),
        at_most(f"interactive_p{lane_slo.percentile:g}_ms", _ok_p(interactive, lane_slo.percentile),
                lane_slo.latency_ms + FALLBACK_ALLOWANCE_MS, "locust", " ms"),
        primary_calls_match_provider(run, primary),
    ]


# ---- circuit --------------------------------------------------------------------------------------

def _sent(phase: Phase) -> float:
    """When the fault change was sent to the provider: it may be live from then on, before its mark."""
    sent = phase.detail.get("sent")
    return float(sent) if isinstance(sent, int | float) else phase.t


def _windows(run: RunData) -> list[tuple[float, float, float]]:
    """(outage confirmed, recovery sent, recovery confirmed) per outage: the primary is surely down
    from the first to the second; between the second and the third it may already be back."""
    downs, ups = run.all_phases("down"), run.all_phases("up")
    return [(d.t, min(_sent(u), u.t), u.t) for d, u in zip(downs, ups, strict=False)]


def judge_circuit(run: RunData) -> list[Criterion]:
    primary = _primary(run)
    windows = _windows(run)
    if not windows or not primary:
        return [Criterion("faults_injected", "down/up phases", "missing", False, "locust")]
    breaker = _breaker_settings(run.config, primary)
    opened = probes = calls = bound = 0
    provider_seen: int | None = 0
    provider_bound = 0
    closes: list[float | None] = []
    for index, (down, up_sent, up) in enumerate(windows):
        # The provider's side, independent of the gateway's events: a breaker window into the outage
        # the breaker must be open, so the primary receives at most the probes (and calls in flight).
        # Judged until the recovery was sent: after it the primary may answer and close the breaker.
        should_be_open = min(down + breaker.window_s, up_sent)
        received = provider_calls(run, primary, should_be_open, up_sent)
        provider_seen = None if received is None or provider_seen is None else provider_seen + received
        open_cycles = int((up_sent - should_be_open) // breaker.open_s) + 1
        provider_bound += run.users + breaker.half_open_probes * open_cycles
        rows = between(run.telemetry, down, up_sent)
        skips = [r.t for r in rows if _skipped_primary(r)]
        opened += bool(skips)
        # Once open (or once it should have been, a breaker window into the outage), the failing model
        # may see the calls already in flight (one per user) and the half-open probes, nothing more.
        since = skips[0] if skips else down + breaker.window_s
        called = [r.t for r in rows if r.t >= since and called_primary(r, primary)]
        calls += len(called)
        probes += sum(1 for t in called if t >= since + breaker.open_s)
        cycles = int(max(0.0, up_sent - since) // breaker.open_s) + 1
        bound += run.users + breaker.half_open_probes * cycles
        # Recovery is judged until the next outage was requested (a request just before its mark may
        # already meet it and fall back).
        next_down = _sent(run.all_phases("down")[index + 1]) if index + 1 < len(windows) else run.end
        healthy = [r for r in between(run.telemetry, up, next_down) if r.ok]
        closes.append(settle_time(healthy, up, next_down, lambda r: r.fallback_used))
    known = [c for c in closes if c is not None]
    slowest_close = max(known) if known and len(known) == len(closes) else None
    return [
        share_at_least("success_rate", share(run.client, lambda r: r.ok), MIN_SUCCESS, "locust"),
        share_at_least("breaker_opened_windows", opened / len(windows), 1.0, "telemetry"),
        at_least("half_open_probes", probes, 1, "telemetry", " calls to the primary after open_s"),
        at_most("primary_calls_while_open", calls, bound, "telemetry", " (in flight + probes)"),
        at_most("primary_calls_while_open_at_provider", provider_seen, provider_bound, "provider",
                " (in flight + probes)"),
        primary_calls_match_provider(run, primary),
        at_most("breaker_closed_after_up_s", slowest_close, breaker.open_s + CLOSE_ALLOWANCE_S, "telemetry",
                " s"),
    ]


# ---- saturation -----------------------------------------------------------------------------------

def _shed(r: ClientRecord) -> bool:
    return r.status in (429, 503) and r.code in SHED_CODES


def _stage_marks(run: RunData) -> list[Phase]:
    return [p for p in run.phases if p.name.startswith("stage") or p.name == "drop"]


def stages_in_order(run: RunData) -> bool:
    """The load shape marked every stage from ``stage0`` and then the drop: a lost mark would judge a
    stage's requests as the next one's (the knee read from the wrong rung)."""
    names = [p.name for p in _stage_marks(run)]
    return len(names) >= 2 and names == [*(f"stage{i}" for i in range(len(names) - 1)), "drop"]


def _stages(run: RunData) -> list[tuple[Phase, float]]:
    """(stage phase, its end) for the climbing stages, up to the drop."""
    marks = _stage_marks(run)
    return [(p, marks[i + 1].t) for i, p in enumerate(marks[:-1]) if p.name != "drop"]


def _met_slo(run: RunData, records: list[ClientRecord]) -> bool:
    for lane in {r.lane for r in records}:
        if lane not in run.config.lanes:
            return False
        slo = run.config.lanes[lane].slo
        mine = [r for r in records if r.lane == lane]
        p = _ok_p(mine, slo.percentile)
        errors = share(mine, lambda r: not r.ok) or 0.0
        if p is None or p > slo.latency_ms or errors > 1 - slo.availability:
            return False
    return bool(records)


def knee(run: RunData) -> float | None:
    """The highest stage request rate at which every lane met its latency and availability SLO."""
    rates = []
    for phase, end in _stages(run):
        records = between(run.client, phase.t, end)
        if end > phase.t and _met_slo(run, records):
            rates.append(len(records) / (end - phase.t))
    return max(rates) if rates else None


def judge_saturation(run: RunData) -> list[Criterion]:
    drop = run.phase("drop")
    if drop is None or not stages_in_order(run):
        marked = ", ".join(p.name for p in _stage_marks(run)) or "none"
        return [Criterion("load_stages", "stage0, stage1, ... then drop, marked in order", marked, False,
                          "locust")]
    slo = run.config.lanes["interactive"].slo
    sheds = [r for r in run.client if _shed(r)]
    unexpected = sum(1 for r in run.client if not r.ok and not (_shed(r) and r.retry_after))
    rates = {lane: share([r for r in run.client if r.lane == lane], _shed) or 0.0
             for lane in ("interactive", "standard", "batch")}
    order_ok = rates["batch"] > 0 and rates["batch"] >= rates["standard"] >= rates["interactive"]
    order = " >= ".join(f"{lane} {rates[lane]:.1%}" for lane in ("batch", "standard", "interactive"))
    interactive = [r for r in run.client if r.lane == "interactive"]
    recovery = settle_time(run.client, drop.t, run.end, lambda r: not r.ok)
    rate = knee(run)
    gateway_sheds = [r for r in run.telemetry if r.status in (429, 503)]
    return [
        at_least("sheds_observed", len(sheds), 1, "locust", " requests"),
        share_at_least("sheds_with_retry_after", share(sheds, lambda r: bool(r.retry_after)), 1.0, "locust"),
        at_most("unexpected_errors", unexpected, 0, "locust", " (5xx or 4xx that is not a shed)"),
        Criterion("shed_order", "batch > 0 and batch >= standard >= interactive", order, order_ok, "locust"),
        share_at_most("interactive_shed_rate", rates["interactive"], INTERACTIVE_SHED_MAX, "locust"),
        at_most(f"interactive_admitted_p{slo.percentile:g}_ms", _ok_p(interactive, slo.percentile),
                slo.latency_ms, "locust", " ms"),
        at_most("recovery_s", recovery, RECOVERY_S, "locust", " s"),
        Criterion("knee_rps", "highest stage rate meeting every lane's SLO (reported)", _round(rate, 2),
                  rate is not None, "locust", "req/s"),
        share_at_least("sheds_logged_as_throttled", share(gateway_sheds, lambda r: r.outcome == "throttled"),
                       1.0, "telemetry"),
    ]


# ---- budget ---------------------------------------------------------------------------------------

def worst_reservation(config: Config, row: TelemetryRow, max_tokens: int) -> float:
    """What the gateway holds for a request like ``row`` before the call: its prompt and ``max_tokens``
    of output at the served model's price of that day (0 when the model has no price)."""
    price = config.price_on(row.model, dt.datetime.fromtimestamp(row.t, dt.UTC).date())
    if price is None:
        return 0.0
    return (row.input_tokens * price.input_per_mtok + max_tokens * price.output_per_mtok) / 1e6


def judge_budget(run: RunData) -> list[Criterion]:
    name = BUDGET_SPENDER.tenant
    tenant = run.config.tenants.get(name)
    if tenant is None:
        return [Criterion("budget_tenant", f"tenant {name!r} in the config", "missing", False, "telemetry")]
    budget = tenant.monthly_budget_usd
    mine = [r for r in run.telemetry if r.tenant == name]
    spend = sum(r.cost_usd for r in mine)
    worst = max((worst_reservation(run.config, r, BUDGET_SPENDER.max_tokens) for r in mine if r.model),
                default=0.0)
    in_flight = run.users * worst
    stops = [r for r in run.client if r.tenant == name and r.code == "budget_exceeded"]
    others = [r for r in run.client if r.tenant != name]
    within = budget - in_flight <= spend <= budget + in_flight
    criteria = [
        at_least("budget_stop_observed", len(stops), 1, "locust", " budget_exceeded answers"),
        share_at_least("budget_stop_retry_after",
                 share(stops, lambda r: r.status == 429 and bool(r.retry_after)), 1.0, "locust"),
        Criterion("spend_stops_at_budget_usd", f"{budget:g} ± {in_flight:.4f} USD in flight", round(spend, 6),
                  within, "telemetry", "USD"),
        share_at_least("bystander_success_rate", share(others, lambda r: r.ok), MIN_SUCCESS, "locust"),
    ]
    if tenant.degrade_at_budget_pct is not None:
        first_degrade = min((r.t for r in mine if r.degraded), default=None)
        first_stop = min((r.t for r in mine if r.outcome == "budget_exceeded"), default=None)
        lead = None if first_degrade is None or first_stop is None else first_stop - first_degrade
        criteria.append(Criterion("degrade_before_stop_s", "> 0 s before the first budget stop",
                                  _round(lead, 3), lead is not None and lead > 0, "telemetry"))
    return criteria


JUDGES: dict[str, Callable[[RunData], list[Criterion]]] = {
    "steady": judge_steady,
    "fallback": judge_fallback,
    "saturation": judge_saturation,
    "budget": judge_budget,
    "circuit": judge_circuit,
}
