"""Every scripted incident of the default scenario is visible in the events it produces."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from statistics import mean
from typing import Any

import pyarrow as pa

from gateway_shim.config import load_config
from gateway_shim.simulate.run import Prepared
from gateway_shim.telemetry.schema import EVENT_SCHEMA

from .conftest import MONTH_START

Events = list[dict[str, Any]]
HAIKU = "anthropic.claude-3-5-haiku-v1"
ORIGIN_US = int(dt.datetime.combine(MONTH_START, dt.time(), tzinfo=dt.UTC).timestamp() * 1e6)


def at_us(prepared: Prepared, kind: str) -> tuple[int, int]:
    """(start, end) in epoch µs of the scenario's first incident of ``kind``."""
    incident: Any = next(i for i in prepared.loaded.scenario.incidents if i.kind == kind)
    duration = getattr(incident, "duration", None) or 0.0
    return ORIGIN_US + int(incident.at * 1e6), ORIGIN_US + int((incident.at + duration) * 1e6)


def test_events_fit_the_schema_and_ids_are_unique(month_events: Events) -> None:
    sample = [e for i, e in enumerate(month_events) if i % 10 == 0 or e["outcome"] != "ok"]
    table = pa.Table.from_pylist(sample, schema=EVENT_SCHEMA)
    assert table.num_rows == len(sample) and len(month_events) > 100_000
    assert all(set(e) == set(EVENT_SCHEMA.names) for e in month_events)
    assert len({e["event_id"] for e in month_events}) == len(month_events)
    assert {e["run_id"] for e in month_events} == {"sim-default-20261101-22d-seed11-x0.05"}


def test_degradation_has_fallbacks_and_failures(month_prepared: Prepared, month_events: Events) -> None:
    begin, end = at_us(month_prepared, "provider_degradation")
    day_us = 86_400_000_000

    def window(events: Events, shift: int, route: str) -> Events:
        return [e for e in events if begin - shift <= e["ts"] < end - shift and e["model_route"] == route]

    inside, before = window(month_events, 0, "ai-search"), window(month_events, day_us, "ai-search")
    assert sum(e["fallback_used"] for e in inside) / len(inside) > 0.3
    assert sum(e["fallback_used"] for e in before) / len(before) < 0.02
    assert {e["fallback_reason"] for e in inside if e["fallback_used"]} == {"error"}
    slow = mean(e["total_latency_ms"] for e in inside if e["outcome"] == "ok")
    assert slow > mean(e["total_latency_ms"] for e in before if e["outcome"] == "ok") + 2000
    # internal data on the default route has only Bedrock targets: both can fail (availability burn)
    default = [e for e in window(month_events, 0, "default") if not e["model_requested"]]
    failed = [e for e in default if e["outcome"] == "upstream_error"]
    assert 0.05 < len(failed) / len(default) < 0.4
    assert {e["status_code"] for e in failed} <= {502, 503, 504}


def test_outage_fails_over_from_the_dead_model(month_prepared: Prepared, month_events: Events) -> None:
    begin, end = at_us(month_prepared, "model_outage")
    inside = [e for e in month_events if begin <= e["ts"] < end - 60_000_000 and e["outcome"] == "ok"]
    assert not any(e["model_name"] == HAIKU for e in inside)
    haiku_first = [e for e in inside
                   if e["model_route"] in ("interactive-chat", "default") and not e["model_requested"]]
    assert len(haiku_first) > 100
    assert all(e["fallback_used"] and e["fallback_reason"] in ("outage", "circuit_open") for e in haiku_first)


def test_policy_change_gives_a_second_version(month_prepared: Prepared, month_events: Events) -> None:
    begin, _ = at_us(month_prepared, "policy_change")
    first, second = (c.policy_version for c in month_prepared.schedule.configs)
    assert first == load_config().policy_version != second
    assert {e["policy_version"] for e in month_events if e["ts"] < begin - 120_000_000} == {first}
    assert {e["policy_version"] for e in month_events if e["ts"] > begin + 120_000_000} == {second}
    analytics = [e for e in month_events if e["model_route"] == "analytics" and e["outcome"] == "ok"]
    before = Counter(e["model_name"] for e in analytics if e["ts"] < begin)
    assert before.most_common(1)[0][0] == "anthropic.claude-3-7-sonnet-v1"
    after = Counter(e["model_name"] for e in analytics if e["ts"] > begin + 120_000_000)
    assert after.most_common(1)[0][0] == HAIKU


def test_prompt_rollout_raises_tokens_per_request(month_prepared: Prepared, month_events: Events) -> None:
    begin, _ = at_us(month_prepared, "prompt_rollout")
    kb = [e for e in month_events if e["app_id"] == "knowledge-bot" and e["outcome"] == "ok"]
    old = [e["input_tokens"] for e in kb if e["ts"] < begin]
    new = [e["input_tokens"] for e in kb if e["ts"] >= begin]
    assert {e["prompt_version"] for e in kb if e["ts"] < begin} == {"kb-v4"}
    assert {e["prompt_version"] for e in kb if e["ts"] >= begin} == {"kb-v5"}
    assert mean(new) > 1.4 * mean(old)


def test_initech_degrades_then_hits_its_budget(month_events: Events) -> None:
    initech = sorted((e for e in month_events if e["tenant_id"] == "initech"), key=lambda e: e["ts"])
    first_degraded = next(e["ts"] for e in initech if "degraded:budget" in e["guardrail_actions"])
    refused = [e for e in initech if e["outcome"] == "budget_exceeded"]
    assert refused and all(e["status_code"] == 429 and e["error_type"] == "budget_exceeded" for e in refused)
    assert first_degraded < refused[0]["ts"]
    spent = sum(e["estimated_cost_usd"] for e in initech)
    assert 880 <= spent <= 960  # the 900 USD budget, passed by at most what was in flight
    assert not any(e["outcome"] == "budget_exceeded" for e in month_events if e["tenant_id"] != "initech")


def test_untagged_app_sends_no_workflow(month_events: Events) -> None:
    legacy = [e for e in month_events if e["app_id"] == "legacy-reports"]
    assert legacy and all(not e["workflow"] for e in legacy)
    assert sum(e["estimated_cost_usd"] for e in legacy) > 100
    assert all(e["workflow"] for e in month_events if e["app_id"] != "legacy-reports")


def test_storm_user_is_throttled(month_prepared: Prepared, month_events: Events) -> None:
    begin, end = at_us(month_prepared, "rate_limit_storm")
    storm = [e for e in month_events if e["user_id"] == "globex-support-bot-7"]
    assert all(begin <= e["ts"] < end for e in storm)
    throttled = [e for e in storm if e["outcome"] == "throttled"]
    assert len(throttled) > 0.4 * len(storm)  # 1200 requests/min against a 600/min tenant limit
    reasons = Counter((e["status_code"], e["error_type"]) for e in throttled)
    assert reasons.most_common(1)[0][0] == (429, "rate_limited")
    assert set(reasons) <= {(429, "rate_limited"), (429, "lane_saturated"), (503, "lane_shed"),
                            (503, "queue_timeout")}


def test_haiku_costs_the_new_price_from_the_change_day(month_events: Events) -> None:
    config = load_config()
    change = dt.date(2026, 11, 15)
    old = config.price_on(HAIKU, change - dt.timedelta(days=1))
    new = config.price_on(HAIKU, change)
    assert old is not None and new is not None and new.input_per_mtok > old.input_per_mtok
    change_us = int(dt.datetime.combine(change, dt.time(), tzinfo=dt.UTC).timestamp() * 1e6)
    for event in (e for e in month_events
                  if e["model_name"] == HAIKU and e["outcome"] == "ok"):
        price = new if event["ts"] >= change_us else old
        cache_read = event["cache_read_tokens"] or 0  # prompt-cache reads have their own price
        read_price = price.input_per_mtok if price.cache_read_per_mtok is None else price.cache_read_per_mtok
        expected = ((event["input_tokens"] - cache_read) * price.input_per_mtok + cache_read * read_price
                    + event["output_tokens"] * price.output_per_mtok) / 1e6 + price.per_request_usd
        assert abs(event["estimated_cost_usd"] - expected) < 1e-9


def test_guardrails_see_pii_and_injection(month_events: Events) -> None:
    actions = Counter(a for e in month_events for a in e["guardrail_actions"])
    assert actions["pii_redacted:email"] > 0
    blocked = [e for e in month_events if e["outcome"] == "blocked"]
    assert blocked and {e["status_code"] for e in blocked} == {403}
