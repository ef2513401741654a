"""Verdict logic on fabricated runs: each criterion passes on a well-behaved run and fails, by name,
when the client's or the gateway's evidence shows the playbook's behaviour missing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway_shim.config.models import Config
from gateway_shim.config.overlay import load_config_document
from loadtests.playbooks import PLAYBOOKS
from loadtests.records import ClientRecord, Phase, ProviderSample, TelemetryRow
from loadtests.request_profiles import BUDGET_SPENDER
from loadtests.verdicts import RunData, called_primary, judge, knee, verdict

BUDGET_TENANT = BUDGET_SPENDER.tenant

PRIMARY = "anthropic.claude-3-5-haiku-v1"
BACKUP = "mistral-7b-instruct"
NOV_2026 = 1_795_000_000.0
"""Epoch seconds in November 2026, when the playbook configs' prices are in force."""


def config(name: str) -> Config:
    return load_config_document(PLAYBOOKS[name].config)[1]


def provider_counts(rows: list[TelemetryRow], every_s: float = 0.25) -> tuple[ProviderSample, ...]:
    """The provider's counter for the primary as it would have been sampled while ``rows`` happened
    (an honest gateway: every call it logged reached the provider)."""
    calls = sorted(r.t for r in rows if called_primary(r, PRIMARY))
    end = max(r.t for r in rows) + every_s
    samples, t = [], min(r.t for r in rows)
    while t <= end:
        count = sum(1 for c in calls if c < t)
        samples.append(ProviderSample(t, {PRIMARY: count}, {PRIMARY: count}))
        t = round(t + every_s, 6)
    return tuple(samples)


def mirrored(client: list[ClientRecord], **overrides: object) -> list[TelemetryRow]:
    """The gateway's events for exactly what the client saw (an honest gateway)."""
    rows = []
    for r in client:
        outcome = "ok" if r.ok else ("throttled" if r.status in (429, 503) else "upstream_error")
        rows.append(TelemetryRow(t=r.t, lane=r.lane, tenant=r.tenant, status=r.status, outcome=outcome,
                                 model=r.model, fallback_used=r.fallback, attempts=1 if r.ok else 0,
                                 total_ms=r.ms))
    return [replace(row, **overrides) for row in rows] if overrides else rows


def failed(criteria: list) -> set[str]:
    return {c.name for c in criteria if not c.passed}


def steady_run(ms: float = 500.0, errors: int = 0) -> RunData:
    client = [ClientRecord(t=100 + i * 0.1, lane=lane, tenant="acme", status=200, ms=ms, model=PRIMARY)
              for i in range(300) for lane in ("interactive", "standard", "batch")]
    client += [ClientRecord(t=130.0, lane="interactive", tenant="acme", status=502, ms=5,
                            code="upstream_error") for _ in range(errors)]
    return RunData("steady", config("steady"), client, mirrored(client), [], users=10)


def test_steady_passes_within_slos_and_names_each_lane() -> None:
    criteria = judge(steady_run())
    assert verdict(criteria) == "pass"
    names = {c.name for c in criteria}
    assert {"interactive_p95_ms", "standard_error_rate", "batch_p95_ms", "telemetry_complete"} <= names
    assert {c.source for c in criteria} == {"locust", "telemetry"}


def test_steady_fails_on_latency_and_on_errors() -> None:
    assert failed(judge(steady_run(ms=4500.0))) == {"interactive_p95_ms"}, "the demo's 4 s interactive SLO"
    assert failed(judge(steady_run(errors=5))) == {"interactive_error_rate"}


def test_an_empty_run_never_passes() -> None:
    run = RunData("steady", config("steady"), [], [], [], users=1)
    assert verdict(judge(run)) == "fail"
    assert "requests_sent" in failed(judge(run))


def test_a_gateway_whose_telemetry_disagrees_with_the_client_fails() -> None:
    run = steady_run()
    missing = replace(run, telemetry=run.telemetry[: len(run.telemetry) // 2])
    assert {"telemetry_complete", "telemetry_matches_client"} <= failed(judge(missing))
    lying = replace(run, telemetry=mirrored(run.client, status=200, outcome="ok"))
    erroring = steady_run(errors=30)
    assert "telemetry_matches_client" in failed(judge(replace(erroring, telemetry=lying.telemetry)))


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        judge(replace(steady_run(), scenario="nope"))


def fallback_phases() -> list[Phase]:
    fault = {"model": PRIMARY}
    return [Phase("start", 0, {}), Phase("outage", 10, fault), Phase("errors", 20, fault),
            Phase("clear", 30, fault), Phase("stop", 50, {})]


def fallback_run(*, flagged: bool = True, closes_at: float = 34.0, skips: bool = True) -> RunData:
    client, rows = [], []
    for i in range(500):
        t = i * 0.1
        during = 10 <= t < closes_at
        model = BACKUP if during else PRIMARY
        client.append(ClientRecord(t, "interactive", "acme", 200, 900, fallback=during and flagged,
                                   model=model))
        reason = ("circuit_open" if skips and t >= 11 else "outage") if during else ""
        rows.append(TelemetryRow(t, "interactive", "acme", 200, "ok", model=model,
                                 fallback_used=during and flagged, fallback_reason=reason,
                                 attempts=1 if reason == "circuit_open" else (2 if during else 1)))
    return RunData("fallback", config("fallback"), client, rows, fallback_phases(), users=10,
                   provider=provider_counts(rows))


def test_fallback_passes_when_traffic_moves_and_comes_back() -> None:
    criteria = judge(fallback_run())
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]
    closed = next(c for c in criteria if c.name == "breaker_closed_after_clear_s")
    assert closed.measured == pytest.approx(4.0, abs=0.2)


def test_fallback_fails_when_unflagged_never_closed_or_never_opened() -> None:
    assert {"fallback_used_during_outage", "fallback_header_during_outage"} <= failed(
        judge(fallback_run(flagged=False)))
    assert "breaker_closed_after_clear_s" in failed(judge(fallback_run(closes_at=60.0)))
    assert failed(judge(fallback_run(skips=False))) == {"breaker_opened", "breaker_opened_at_provider"}


def test_fallback_gateway_claiming_skips_it_did_not_make_is_caught_by_the_provider() -> None:
    lying = replace(fallback_run(), provider=fallback_run(skips=False).provider)
    assert failed(judge(lying)) == {"breaker_opened_at_provider", "primary_calls_match_provider"}


def test_fallback_without_provider_samples_fails_the_provider_criteria() -> None:
    assert failed(judge(replace(fallback_run(), provider=()))) == {"breaker_opened_at_provider",
                                                                    "primary_calls_match_provider"}


def test_fallback_without_a_fallback_route_fails_on_success() -> None:
    run = fallback_run()
    client = [replace(r, status=503, code="upstream_unavailable", model="") if 10 <= r.t < 20 else r
              for r in run.client]
    assert "success_rate" in failed(judge(replace(run, client=client, telemetry=mirrored(client))))


def test_fallback_without_phases_fails_by_name() -> None:
    run = replace(fallback_run(), phases=[])
    assert failed(judge(run)) == {"faults_injected"}


def circuit_run(*, breaker: bool = True) -> RunData:
    windows = [(10.0, 20.0), (30.0, 40.0)]
    phases = [Phase("start", 0, {})]
    for down, up in windows:
        phases += [Phase("down", down, {"model": PRIMARY}), Phase("up", up, {"model": PRIMARY})]
    phases.append(Phase("stop", 50, {}))
    rows = []
    for i in range(1000):
        t = i * 0.05
        window = next(((d, u) for d, u in windows if d <= t < u), None)
        if window is None:
            since_up = min((t - u for _, u in windows if t >= u), default=99)
            recovering = since_up < 2.0
            rows.append(TelemetryRow(t, "interactive", "acme", 200, "ok",
                                     model=BACKUP if recovering else PRIMARY, fallback_used=recovering,
                                     fallback_reason="circuit_open" if recovering else "", attempts=1))
            continue
        into = t - window[0]
        tripping = into < 1.0 or not breaker
        probe = breaker and not tripping and i % 40 == 0
        reason = "outage" if tripping or probe else "circuit_open"
        rows.append(TelemetryRow(t, "interactive", "acme", 200, "ok", model=BACKUP, fallback_used=True,
                                 fallback_reason=reason, attempts=2 if reason == "outage" else 1))
    client = [ClientRecord(r.t, r.lane, r.tenant, r.status, 700, fallback=r.fallback_used, model=r.model)
              for r in rows]
    return RunData("circuit", config("circuit"), client, rows, phases, users=10,
                   provider=provider_counts(rows))


def test_circuit_passes_with_probes_and_quick_close() -> None:
    criteria = judge(circuit_run())
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]


def test_circuit_without_a_working_breaker_storms_the_failing_model() -> None:
    assert failed(judge(circuit_run(breaker=False))) >= {
        "breaker_opened_windows", "primary_calls_while_open", "primary_calls_while_open_at_provider"}


def test_circuit_recovery_ends_when_the_next_outage_was_requested() -> None:
    """The provider takes the next outage before its mark is written: a request in between meets it
    and falls back; that is the next window's, not a breaker that never closed."""
    run = circuit_run()
    phases = [replace(p, detail={**p.detail, "sent": p.t - 0.05}) for p in run.phases]
    caught = TelemetryRow(29.99, "interactive", "acme", 200, "ok", model=BACKUP, fallback_used=True,
                          fallback_reason="outage", attempts=2)
    early = replace(run, phases=phases, telemetry=sorted([*run.telemetry, caught], key=lambda r: r.t))
    assert "breaker_closed_after_up_s" in failed(judge(replace(early, phases=run.phases)))
    assert "breaker_closed_after_up_s" not in failed(judge(early))


def test_circuit_gateway_hiding_its_calls_is_caught_by_the_provider() -> None:
    """Events that say ``circuit_open`` while the failing model kept being called: the telemetry-side
    criteria pass, the provider's count does not."""
    lying = replace(circuit_run(), provider=circuit_run(breaker=False).provider)
    assert failed(judge(lying)) == {"primary_calls_while_open_at_provider", "primary_calls_match_provider"}


def saturation_run(*, interactive_shed: bool = False, retry_after: str = "1") -> RunData:
    phases = [Phase("start", 0, {}), Phase("stage0", 0, {"users": 4}), Phase("stage1", 10, {"users": 40}),
              Phase("drop", 20, {"users": 4}), Phase("stop", 40, {})]
    client = []
    for i in range(400):
        t = i * 0.1
        peak = 10 <= t < 20.5
        for lane in ("interactive", "standard", "batch"):
            shed = peak and (lane == "batch" or (lane == "interactive" and interactive_shed))
            client.append(ClientRecord(t, lane, "acme", 503 if shed else 200, 5 if shed else 800,
                                       retry_after=retry_after if shed else "",
                                       code="lane_shed" if shed else "", model=PRIMARY))
    return RunData("saturation", config("saturation"), client, mirrored(client), phases, users=0)


def test_saturation_passes_when_batch_is_shed_and_interactive_protected() -> None:
    run = saturation_run()
    criteria = judge(run)
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]
    assert knee(run) == pytest.approx(30.0)
    recovery = next(c for c in criteria if c.name == "recovery_s")
    assert recovery.measured == pytest.approx(0.4, abs=0.11)


def test_saturation_fails_by_name_when_a_stage_mark_is_lost() -> None:
    """Without stage0's mark its requests would count for no stage and stage1 would be judged as the
    first rung: the knee read from the wrong stage, or none at all."""
    run = saturation_run()
    for lost in ("stage0", "drop"):
        kept = [p for p in run.phases if p.name != lost]
        assert failed(judge(replace(run, phases=kept))) == {"load_stages"}, lost
    for names in (("stage0", "stage2", "drop"), ("stage1", "stage0", "drop")):  # a gap, out of order
        phases = [Phase(name, t, {}) for name, t in zip(names, (0, 10, 20), strict=True)]
        assert failed(judge(replace(run, phases=phases))) == {"load_stages"}, names


def test_saturation_fails_when_interactive_is_shed_or_sheds_lack_retry_after() -> None:
    assert {"interactive_shed_rate", "shed_order"} <= failed(judge(saturation_run(interactive_shed=True)))
    assert {"sheds_with_retry_after", "unexpected_errors"} <= failed(judge(saturation_run(retry_after="")))


def test_saturation_counts_gateway_5xx_that_are_not_sheds() -> None:
    run = saturation_run()
    client = [*run.client, ClientRecord(15, "interactive", "acme", 502, 3, code="upstream_error")]
    assert "unexpected_errors" in failed(judge(replace(run, client=client, telemetry=mirrored(client))))


def budget_run(*, stop: bool = True, degrade: bool = True) -> RunData:
    cfg = config("budget")
    budget = cfg.tenants[BUDGET_TENANT].monthly_budget_usd
    client, rows, spent = [], [], 0.0
    for i in range(200):
        t = NOV_2026 + i * 0.1
        cost = 0.00036 if spent < 0.6 * budget or not degrade else 0.00012
        if stop and spent + cost > budget:
            client.append(ClientRecord(t, "standard", BUDGET_TENANT, 429, 2, retry_after="3600",
                                       code="budget_exceeded"))
            rows.append(TelemetryRow(t, "standard", BUDGET_TENANT, 429, "budget_exceeded"))
            continue
        spent += cost
        client.append(ClientRecord(t, "standard", BUDGET_TENANT, 200, 900, model=PRIMARY))
        rows.append(TelemetryRow(t, "standard", BUDGET_TENANT, 200, "ok", model=PRIMARY, cost_usd=cost,
                                 input_tokens=40, degraded=cost < 0.0003))
    client.append(ClientRecord(NOV_2026 + 5, "standard", "acme", 200, 900, model=PRIMARY))
    rows.append(TelemetryRow(NOV_2026 + 5, "standard", "acme", 200, "ok", model=PRIMARY, cost_usd=0.0004))
    return RunData("budget", cfg, client, rows, [], users=10)


def test_budget_passes_when_spend_stops_at_the_line_after_degrading() -> None:
    criteria = judge(budget_run())
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]


def test_budget_fails_without_a_stop_or_without_degrade() -> None:
    assert "budget_stop_observed" in failed(judge(budget_run(stop=False)))
    assert failed(judge(budget_run(degrade=False))) == {"degrade_before_stop_s"}


def test_budget_overspend_beyond_in_flight_bound_fails() -> None:
    run = budget_run()
    extra = TelemetryRow(NOV_2026 + 19, "standard", BUDGET_TENANT, 200, "ok", model=PRIMARY, cost_usd=0.01,
                         input_tokens=40)
    assert "spend_stops_at_budget_usd" in failed(judge(replace(run, telemetry=[*run.telemetry, extra])))


def test_playbook_configs_load(tmp_path: Path) -> None:
    for book in PLAYBOOKS.values():
        assert config(book.name).lanes, book.name
        assert book.locustfile.exists(), book.name


def test_the_request_log_must_agree_with_locusts_own_stats() -> None:
    run = steady_run(errors=3)
    honest = replace(run, locust_totals=(len(run.client), 3))
    assert verdict(judge(honest)) == "fail"  # the 3 errors break the lane's SLO, not the cross-check
    assert "locust_stats_match_log" not in failed(judge(honest))
    assert "locust_stats_match_log" in failed(judge(replace(run, locust_totals=(len(run.client) // 2, 0))))
    assert "locust_stats_match_log" in failed(judge(replace(run, locust_totals=(0, 0))))
    # one request per user may finish after Locust's final snapshot
    lagging = replace(run, locust_totals=(len(run.client) - run.users, 3))
    assert "locust_stats_match_log" not in failed(judge(lagging))


def test_the_telemetry_cross_check_is_not_masked_by_the_stats_check() -> None:
    run = steady_run()
    lying = replace(run, telemetry=mirrored(run.client, status=500, outcome="upstream_error"),
                    locust_totals=(len(run.client), 0))
    assert "telemetry_matches_client" in failed(judge(lying))


# ---- issue 13: a harness that never cries wolf ----------------------------------------------------

def test_fallback_judges_requests_by_send_and_answer_time_not_by_the_mark() -> None:
    """The 50% error phase was sent to the provider at 19.99 s and marked at 20.0 s; a request sent
    0.7 ms after it went live met a healthy primary. It is not an outage request: the run passes."""
    run = fallback_run()
    phases = [replace(p, detail={**p.detail, "sent": p.t - 0.01}) if p.name in ("errors", "clear") else p
              for p in run.phases]
    lucky = ClientRecord(19.9907, "interactive", "acme", 200, 5.0, fallback=False, model=PRIMARY)
    client = sorted([*run.client, lucky], key=lambda r: r.t)
    rows = sorted([*run.telemetry, *mirrored([lucky])], key=lambda r: r.t)
    judged = replace(run, phases=phases, client=client, telemetry=rows, provider=provider_counts(rows))
    criteria = judge(judged)
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]
    assert "fallback_header_during_outage" in failed(judge(replace(judged, phases=run.phases))), \
        "judged against the mark, the same request cries wolf"


def test_fallback_still_fails_when_a_request_wholly_inside_the_outage_did_not_fall_back() -> None:
    run = fallback_run()
    unlucky = ClientRecord(15.0001, "interactive", "acme", 200, 5.0, fallback=False, model=PRIMARY)
    client = sorted([*run.client, unlucky], key=lambda r: r.t)
    rows = sorted([*run.telemetry, *mirrored([unlucky])], key=lambda r: r.t)
    judged = replace(run, client=client, telemetry=rows, provider=provider_counts(rows))
    assert {"fallback_header_during_outage", "fallback_used_during_outage"} <= failed(judge(judged))


def test_circuit_calls_after_the_recovery_was_sent_are_not_calls_while_open() -> None:
    """The provider took the recovery at 19.5 s (marked at 20 s): the primary answering the requests
    sent in between is recovery, not a breaker that failed to stay open."""
    run = circuit_run()
    phases = [replace(p, detail={**p.detail, "sent": p.t - 0.5}) if p.name == "up" else p for p in run.phases]
    recovered = [TelemetryRow(19.5 + i * 0.01, "interactive", "acme", 200, "ok", model=PRIMARY, attempts=1)
                 for i in range(40)]
    rows = sorted([*run.telemetry, *recovered], key=lambda r: r.t)
    client = [ClientRecord(r.t, r.lane, r.tenant, r.status, 700, fallback=r.fallback_used, model=r.model)
              for r in rows]
    judged = replace(run, phases=phases, client=client, telemetry=rows, provider=provider_counts(rows))
    criteria = judge(judged)
    assert verdict(criteria) == "pass", [c for c in criteria if not c.passed]
    assert failed(judge(replace(judged, phases=run.phases))) & {
        "primary_calls_while_open", "primary_calls_while_open_at_provider"}, "judged against the mark"
