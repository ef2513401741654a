"""A lake written by the test: synthetic schema-v1 events with every trap the marts must survive.

Duplicates across files, a mid-month price change (the demo's Haiku change on 2026-11-15), an empty
day, a corrupt and a foreign object, a second policy version (restricted data may no longer use
Nova Lite), a prompt-version change, a fallback-rate shift, an outage burst for burn-rate alerts, a
day whose gateway estimates are 3% off for one model, load-test summaries (one malformed), and rows
exactly on the marts' thresholds (latency targets, the 5xx rule, budgets) so that moving one fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gateway_shim.config import Config, parse_config
from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.policy.cost import PriceBook
from gateway_shim.telemetry.layout import split_by_hour
from gateway_shim.telemetry.policies import write_policy_snapshot
from gateway_shim.telemetry.schema import EVENT_COLUMNS, EVENT_SCHEMA
from gateway_shim.telemetry.storage import LakeLocation

FIRST_DAY = dt.date(2026, 10, 20)
LAST_DAY = dt.date(2026, 11, 20)
EMPTY_DAY = dt.date(2026, 11, 5)
POLICY_CHANGE_AT = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)
PROMPT_CHANGE_DAY = dt.date(2026, 11, 12)
SHIFT_WEEK = dt.date(2026, 11, 16)
MISPRICED_DAY, MISPRICED_MODEL = dt.date(2026, 11, 2), "amazon.nova-lite-v1"
OUTAGE_START = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)
DUPLICATE_DAY = dt.date(2026, 11, 7)
UNPRICED_DAY = dt.date(2026, 11, 9)
"""Some served events of this day are CountTokens calls, which the gateway records unpriced."""
LATE_DAY = dt.date(2026, 10, 25)
CORRUPT_PATH = "events/v1/dt=2026-11-03/hour=07/gw-x-20261103T070000Z-corrupt.parquet"
FOREIGN_PATH = "events/v1/dt=2026-11-04/hour=07/gw-x-20261104T070000Z-foreign.parquet"
BAD_SUMMARY_PATH = "loadtests/run-broken/summary.json"
BOUNDARY_AT = dt.datetime(2026, 11, 19, 15, 0, tzinfo=dt.UTC)
HAIKU = "anthropic.claude-3-5-haiku-v1"  # $1.00 per million input tokens from 2026-11-15
HAIKU_PER_IMAGE_USD = (0.0004, 0.0005)
"""The test catalog's per-image prices for Haiku before and from 2026-11-15 (the demo has none)."""
EXTRAS_PER_REQUEST_USD = 0.00025
"""The per-request fee of every model in ``small_lake(priced_extras=True)`` (the demo has none)."""
EDGE_BUDGET_USD = 2.0
EDGE_REQUESTS_OF_125K_TOKENS = {"edge-under": 15, "edge-at": 16, "edge-over": 17}  # $0.125 each, exact
EDGE_STATUS = {"edge-under": "at_risk", "edge-at": "exhausted", "edge-over": "over_budget"}
LOAD_TEST_RUN = "lt-fallback-20261114T070000Z-abc123"
"""A load test run against the real gateway: in raw.events, never in the cost marts."""
HOURS = (1, 7, 13, 19)
WORKFLOWS = ("support-summary", "knowledge-bot", "ai-search", "analytics-assistant", None)


def test_configs(folder: Path, per_request_usd: float = 0.0) -> tuple[Path, Config, Config]:
    """The demo config with small budgets (so a tenant overruns) as v1, and v2 without Nova Lite for
    restricted data; ``per_request_usd`` > 0 adds that fee to every price. Returns (path of v2 = the
    current config, v1, v2)."""
    text = DEMO_CONFIG.read_text()
    if per_request_usd:
        text = re.sub(r"(output_per_mtok: [0-9.]+)", rf"\1, per_request_usd: {per_request_usd}", text)
    text = text.replace("monthly_budget_usd: 900", "monthly_budget_usd: 4").replace(
        "monthly_budget_usd: 2500", "monthly_budget_usd: 40"
    )
    text = text.replace("\ntenants:\n", "\ntenants:\n" + "".join(map(_edge_tenant, EDGE_STATUS)), 1)
    for cache_write, per_image in zip(("1.00", "1.25"), HAIKU_PER_IMAGE_USD, strict=True):
        text = text.replace(f"cache_write_per_mtok: {cache_write}}}",
                            f"cache_write_per_mtok: {cache_write}, input_image_usd: {per_image}}}", 1)
    v1 = parse_config(text)
    text_v2 = text.replace(
        "models: [anthropic.claude-3-5-haiku-v1, anthropic.claude-3-7-sonnet-v1, amazon.nova-lite-v1]",
        "models: [anthropic.claude-3-5-haiku-v1, anthropic.claude-3-7-sonnet-v1]",
    )
    v2 = parse_config(text_v2)
    assert v1.policy_version != v2.policy_version
    path = folder / "aigw-test.yaml"
    path.write_text(text_v2)
    return path, v1, v2


def _usage_details(event: dict[str, Any]) -> dict[str, Any]:
    """A third of the served events are schema v2 with prompt-cache and reasoning tokens, drawn from
    their own generator (seeded by the event id) so the other fields stay as they were."""
    rng = random.Random(event["event_id"])
    if rng.random() >= 1 / 3:
        return {}
    tokens_in, tokens_out = event["input_tokens"], event["output_tokens"]
    details = {"schema_version": 2, "operation": "chat", "cache_read_tokens": rng.randint(0, tokens_in // 2),
               "cache_write_tokens": rng.randint(0, tokens_in // 4),
               "reasoning_tokens": rng.randint(0, tokens_out // 3), "tool_calls": 0, "modalities": ["text"]}
    images = rng.randint(1, 3) if rng.random() < 0.25 else 0  # drawn last: the draws above are unchanged
    return {**details, "input_images": images, "modalities": ["image", "text"] if images else ["text"]}


def _count_tokens_calls(events: list[dict[str, Any]], count: int = 12) -> None:
    """Turn ``count`` served events into CountTokens calls as the gateway records them: input tokens
    counted, no output, cost NULL and the ``unpriced:`` action."""
    served = [e for e in events if e["outcome"] == "ok" and e["model_name"]][:count]
    for event in served:
        event.update(schema_version=2, operation="count_tokens", output_tokens=0, estimated_cost_usd=None,
                     cache_read_tokens=None, cache_write_tokens=None, reasoning_tokens=None, tool_calls=None,
                     guardrail_actions=["unpriced:count_tokens"])


ENDINGS_DAY = dt.date(2026, 11, 14)
"""``small_lake(priced_extras=True)``'s day of calls that ended without an answer (``_endings``)."""


def _endings(generator: Generator) -> list[dict[str, Any]]:
    """Haiku calls that ended without an answer, recorded as the gateway records them (core.py
    ``Gateway.finish``): 8 that every attempt failed (502) and 2 the provider refused (400), without
    the provider's usage (the input estimate, images sent, cost 0: nothing charged); 3 streams the
    client hung up on (the input estimate plus the output so far, charged) and 2 answers the output
    guardrail withheld (the provider's usage, cache and reasoning tokens included, charged); and an
    ok answer whose usage was 0 tokens (no cost, not even the per-request fee)."""
    moment = dt.datetime(ENDINGS_DAY.year, ENDINGS_DAY.month, ENDINGS_DAY.day, 16, tzinfo=dt.UTC)
    common = {"schema_version": 2, "operation": "chat", "model_provider": "bedrock", "model_name": HAIKU,
              "sensitivity": "internal", "tool_calls": None, "modalities": ["image", "text"],
              "input_images": 2, "fallback_used": False, "fallback_reason": None}
    rows: list[dict[str, Any]] = []
    for i in range(10):
        failed = i < 8
        status = 502 if failed else 400
        rows.append({**common, "outcome": "upstream_error" if failed else "client_error",
                     "status_code": status, "error_type": f"http_{status}", "attempts": 2 if failed else 1,
                     "input_tokens": 1500 + i, "output_tokens": 0})
    for i in range(3):
        rows.append({**common, "outcome": "client_error", "status_code": 499, "error_type": "client_closed",
                     "streamed": True, "attempts": 1, "input_tokens": 1200 + i, "output_tokens": 40 + i})
    for i in range(2):
        rows.append({**common, "outcome": "blocked", "status_code": 403, "error_type": "output_blocked",
                     "attempts": 1, "input_tokens": 900 + i, "output_tokens": 300, "cache_read_tokens": 400,
                     "cache_write_tokens": 100, "reasoning_tokens": 50})
    rows.append({**common, "outcome": "ok", "status_code": 200, "error_type": None, "attempts": 1,
                 "input_tokens": 0, "output_tokens": 0, "input_images": 0, "modalities": ["text"]})
    events = [generator.event(moment + dt.timedelta(seconds=i), **row) for i, row in enumerate(rows)]
    for event in events[:10]:  # no usage from the provider: the gateway charged nothing
        event["estimated_cost_usd"] = 0.0
    return events


def _edge_tenant(name: str) -> str:
    """A tenant that only the boundary rows spend for, with a budget of $2."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return (
        f"  {name}:\n    team: edge\n    apps: [edge-app]\n"
        f"    api_keys:\n      - {{name: {name}, sha256: {digest}}}\n"
        f"    monthly_budget_usd: {EDGE_BUDGET_USD}\n"
        "    limits: {requests_per_min: 600, tokens_per_min: 1500000}\n"
        "    lanes: [interactive, standard, batch]\n"
    )


@dataclass
class Generator:
    v1: Config
    v2: Config
    rng: random.Random = field(default_factory=lambda: random.Random(20261125))
    usage_details: bool = False
    """Give a third of the served events prompt-cache and reasoning tokens (schema v2)."""

    def _route(self, workflow: str | None, lane: str) -> str:
        for name, route in self.v2.routes.items():
            if name == "default":
                continue
            if workflow and route.match.workflows and workflow in route.match.workflows:
                return name
            if route.match.lanes and lane in route.match.lanes:
                return name
        return "default"

    def event(self, moment: dt.datetime, **overrides: Any) -> dict[str, Any]:
        rng = self.rng
        tenant_id = rng.choice(sorted(t for t in self.v2.tenants if t not in EDGE_STATUS))
        tenant = self.v2.tenants[tenant_id]
        workflow = rng.choice(WORKFLOWS)
        lane = rng.choice(("interactive", "standard", "batch"))
        sensitivity = rng.choice(("public", "internal", "restricted"))
        route_name = self._route(workflow, lane)
        targets = self.v2.routes[route_name].targets
        fallback = rng.random() < 0.05 or (
            workflow == "ai-search"
            and tenant_id == "globex"
            and moment.date() >= SHIFT_WEEK
            and rng.random() < 0.4
        )
        if sensitivity == "restricted":
            target = rng.choice(
                [("bedrock", "anthropic.claude-3-5-haiku-v1"), ("bedrock", "amazon.nova-lite-v1")]
            )
        else:
            chosen = targets[1] if fallback and len(targets) > 1 else targets[0]
            target = (chosen.provider, chosen.model)
        roll = rng.random()
        outcome, status = "ok", 200
        for name, code, share in (
            ("upstream_error", 502, 0.003),
            ("throttled", 429, 0.04),
            ("throttled", 503, 0.001),
            ("blocked", 403, 0.03),
            ("budget_exceeded", 429, 0.01),
            ("client_error", 400, 0.02),
        ):
            if roll < share:
                outcome, status = name, code
                break
            roll -= share
        served = outcome in ("ok", "upstream_error")
        version = self.v2 if moment >= POLICY_CHANGE_AT and rng.random() < 0.9 else self.v1
        input_tokens = rng.randint(100, 3000) if outcome == "ok" else 0
        output_tokens = rng.randint(50, 800) if outcome == "ok" else 0
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "schema_version": 1,
            "ts": moment,
            "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "gateway_id": "gw-a",
            "tenant_id": tenant_id,
            "team": tenant.team,
            "app_id": rng.choice(tenant.apps) if rng.random() > 0.03 else None,
            "user_id": f"user-{rng.randint(1, 40)}",
            "workflow": workflow,
            "sensitivity": sensitivity,
            "latency_class": lane,
            "budget_class": "default",
            "model_requested": "",
            "model_provider": target[0] if served else None,
            "model_route": route_name if outcome != "client_error" else None,
            "model_name": target[1] if served else None,
            "prompt_version": ("pv2" if moment.date() >= PROMPT_CHANGE_DAY else "pv1")
            if workflow == "support-summary"
            else "p1",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "retrieval_latency_ms": 0.0,
            "inference_latency_ms": None,
            "gateway_overhead_ms": 1.5,
            "total_latency_ms": rng.uniform(200, 5000) if served else rng.uniform(1, 5),
            "ttft_ms": None,
            "status_code": status,
            "outcome": outcome,
            "error_type": None if outcome == "ok" else outcome,
            "fallback_used": fallback and served,
            "fallback_reason": "error" if fallback and served else None,
            "attempts": 2 if fallback and served else 1,
            "validation_result": "passed",
            "guardrail_actions": [],
            "policy_version": version.policy_version,
            "estimated_cost_usd": 0.0,
            "streamed": rng.random() < 0.5,
            "run_id": "",
        }
        event.update(overrides)
        if self.usage_details and event["outcome"] == "ok" and event["input_tokens"] and not overrides:
            event.update(_usage_details(event))
        event["estimated_cost_usd"] = self._estimate(event)
        return event

    def _estimate(self, event: dict[str, Any]) -> float:
        model = event["model_name"]
        if model is None or (event["input_tokens"] or 0) + (event["output_tokens"] or 0) == 0:
            return 0.0
        day = (event["ts"].date() - dt.date(1970, 1, 1)).days
        assert self.v2.price_on(model, event["ts"].date()) is not None
        cost = PriceBook(self.v2.pricing).cost(model, day, event["input_tokens"], event["output_tokens"],
                                               event.get("cache_read_tokens") or 0,
                                               event.get("cache_write_tokens") or 0,
                                               event.get("input_images") or 0)
        if event["ts"].date() == MISPRICED_DAY and model == MISPRICED_MODEL:
            cost *= 1.03
        return cost

    def day(self, day: dt.date, per_hour: int = 75) -> list[dict[str, Any]]:
        events = []
        for hour in HOURS:
            for _ in range(per_hour):
                second = self.rng.randrange(3600)
                moment = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC) + dt.timedelta(
                    seconds=second, microseconds=self.rng.randrange(1_000_000)
                )
                events.append(self.event(moment))
        return events

    def outage(self) -> list[dict[str, Any]]:
        """40 minutes of the interactive chat route failing 60% of the time, 10 requests a minute."""
        events = []
        for minute in range(40):
            for i in range(10):
                moment = OUTAGE_START + dt.timedelta(minutes=minute, seconds=i * 6)
                failing = self.rng.random() < 0.6
                events.append(
                    self.event(
                        moment,
                        latency_class="interactive",
                        model_route="interactive-chat",
                        workflow="knowledge-bot",
                        sensitivity="public",
                        model_provider="bedrock",
                        model_name="anthropic.claude-3-5-haiku-v1",
                        outcome="upstream_error" if failing else "ok",
                        status_code=502 if failing else 200,
                        input_tokens=0 if failing else 500,
                        output_tokens=0 if failing else 100,
                        error_type="upstream_error" if failing else None,
                    )
                )
        return events

    def boundaries(self) -> list[dict[str, Any]]:
        """Rows exactly on the marts' thresholds, with a neighbour on the other side: ok requests at
        each lane's latency target (within it) and half a millisecond over; a 500 that is not an
        upstream error (an error) and a 499 (not one); the edge tenants at 93.75%, 100% and 106.25%
        of their budget (at risk, exhausted, over budget), in sums that are exact in binary."""
        served: dict[str, Any] = {
            "outcome": "ok", "status_code": 200, "error_type": None, "sensitivity": "internal",
            "workflow": "knowledge-bot", "model_route": "interactive-chat", "model_provider": "bedrock",
            "model_name": HAIKU, "input_tokens": 500, "output_tokens": 100, "fallback_used": False,
            "fallback_reason": None, "attempts": 1,
        }
        refused = {**served, "model_provider": None, "model_name": None, "input_tokens": 0,
                   "output_tokens": 0}
        rows: list[dict[str, Any]] = []
        for lane, settings in sorted(self.v2.lanes.items()):
            target = settings.slo.latency_ms
            for latency in (target, target, target + 0.5):
                rows.append({**served, "latency_class": lane, "total_latency_ms": latency})
        for lane in ("interactive", "batch"):
            for outcome, status in (("throttled", 500), ("client_error", 499)):
                rows.append({**refused, "latency_class": lane, "outcome": outcome, "status_code": status,
                             "error_type": outcome, "total_latency_ms": 2.0})
        for tenant, requests in EDGE_REQUESTS_OF_125K_TOKENS.items():
            rows += [{**served, "tenant_id": tenant, "team": "edge", "app_id": "edge-app",
                      "input_tokens": 125_000, "output_tokens": 0}] * requests
        return [self.event(BOUNDARY_AT + dt.timedelta(seconds=i), **row) for i, row in enumerate(rows)]


def write_events(lake: LakeLocation, events: list[dict[str, Any]], gateway_id: str, tag: str) -> list[str]:
    """One Parquet object per hour the events fall in, in the lake's layout; returns their paths."""
    rows = [{name: event.get(name) for name in EVENT_COLUMNS} for event in events]
    table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
    paths = []
    for part in split_by_hour(table):
        path = f"{part.prefix}/{gateway_id}-{part.day.replace('-', '')}T{part.hour}0000Z-{tag}.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(part.table, sink, compression="zstd")
        lake.write_bytes(path, sink.getvalue().to_pybytes())
        paths.append(path)
    return paths


@dataclass
class Lake:
    location: LakeLocation
    config_path: Path
    v1: Config
    v2: Config
    events: list[dict[str, Any]]  # every distinct event the warehouse must hold
    summaries: list[dict[str, Any]]


def summary(run_id: str, scenario: str, started: str, verdict: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "scenario": scenario,
        "started_at": started,
        "duration_s": 60,
        "verdict": verdict,
        "requests": 1200,
        "rps": 20.0,
        "p95_ms": 840.5,
        "error_rate": 0.01,
        "fallback_rate": 0.2,
        **({"refused_as_designed_rate": 0.5, "unexpected_errors": 0} if scenario == "saturation" else {}),
        "criteria": [
            {"name": "p95_ms", "threshold": 1000, "measured": 840.5, "passed": True, "source": "locust"}
        ],
        "locust_csv": [f"loadtests/{run_id}/stats.csv"],
    }


def build_lake(location: LakeLocation, folder: Path) -> Lake:
    """The full scenario (without the late file: ``add_late_events`` writes it after a first run)."""
    config_path, v1, v2 = test_configs(folder)
    write_policy_snapshot(location, v1, now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    write_policy_snapshot(location, v2, now=POLICY_CHANGE_AT)
    generator = Generator(v1, v2, usage_details=True)
    events: list[dict[str, Any]] = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        if day != EMPTY_DAY:
            day_events = generator.day(day)
            if day == UNPRICED_DAY:
                _count_tokens_calls(day_events)
            write_events(location, day_events, "gw-a", "main")
            events += day_events
        day += dt.timedelta(days=1)
    outage = generator.outage()
    write_events(location, outage, "gw-a", "outage")
    events += outage
    boundaries = Generator(v1, v2, random.Random(11)).boundaries()
    write_events(location, boundaries, "gw-a", "boundaries")
    events += boundaries
    moment = dt.datetime(2026, 11, 14, 7, 0, tzinfo=dt.UTC)
    load_test = [generator.event(moment + dt.timedelta(seconds=i), run_id=LOAD_TEST_RUN) for i in range(25)]
    write_events(location, load_test, "gw-a", "loadtest")
    events += load_test
    duplicated = [e for e in events if e["ts"].date() == DUPLICATE_DAY and e["ts"].hour == 7][:40]
    write_events(location, duplicated, "gw-b", "retry")
    location.write_bytes(CORRUPT_PATH, b"PAR1 this is not a parquet file at all")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), sink)
    location.write_bytes(FOREIGN_PATH, sink.getvalue().to_pybytes())
    summaries = [
        summary("run-1", "fallback", "2026-11-18T10:00:00Z", "pass"),
        summary("run-2", "saturation", "2026-11-19T08:30:00+00:00", "fail"),
    ]
    for item in summaries:
        location.write_bytes(f"loadtests/{item['run_id']}/summary.json", json.dumps(item).encode())
    location.write_bytes(BAD_SUMMARY_PATH, b'{"run_id": "run-broken", "scenario": "x"}')
    return Lake(location, config_path, v1, v2, events, summaries)


def add_late_events(lake: Lake, count: int = 30) -> list[dict[str, Any]]:
    """Late events for an old day, in a new object: the next run must reload that day only."""
    generator = Generator(lake.v1, lake.v2, random.Random(7))
    moment = dt.datetime(LATE_DAY.year, LATE_DAY.month, LATE_DAY.day, 13, 5, tzinfo=dt.UTC)
    late = [generator.event(moment + dt.timedelta(seconds=i)) for i in range(count)]
    write_events(lake.location, late, "gw-late", "late")
    lake.events += late
    return late


def small_lake(location: LakeLocation, folder: Path, days: int = 3, per_hour: int = 10,
               priced_extras: bool = False) -> Lake:
    """A few clean days from 2026-11-13 (across the Haiku price change), one policy version.
    ``priced_extras``: every price part at work as well, i.e. prompt-cache, reasoning and image
    tokens (schema v2), ``EXTRAS_PER_REQUEST_USD`` on every model, CountTokens calls (unpriced)
    on the first day, and calls that ended without an answer, charged or not (``_endings``), on
    ``ENDINGS_DAY``."""
    config_path, v1, v2 = test_configs(folder, EXTRAS_PER_REQUEST_USD if priced_extras else 0.0)
    write_policy_snapshot(location, v2, now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    generator = Generator(v2, v2, random.Random(days), usage_details=priced_extras)
    events: list[dict[str, Any]] = []
    for i in range(days):
        day_events = generator.day(dt.date(2026, 11, 13) + dt.timedelta(days=i), per_hour=per_hour)
        if priced_extras and i == 0:
            _count_tokens_calls(day_events)
        if priced_extras and day_events[0]["ts"].date() == ENDINGS_DAY:
            day_events += _endings(generator)
        write_events(location, day_events, "gw-a", "main")
        events += day_events
    return Lake(location, config_path, v1, v2, events, [])
