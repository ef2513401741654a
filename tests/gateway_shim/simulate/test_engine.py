from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from gateway_shim.simulate.run import Options, prepare, simulate_into
from gateway_shim.simulate.scenario import DEFAULT_SCENARIO

from .conftest import simulate_events

MONDAY = dt.date(2026, 11, 2)


def test_same_seed_gives_identical_events_and_another_seed_differs() -> None:
    options = Options(days=1, start=MONDAY, seed=5, scale=0.05)
    first = simulate_events(prepare(options))
    again = simulate_events(prepare(options))
    assert len(first) > 1000
    assert first == again
    other = simulate_events(prepare(Options(days=1, start=MONDAY, seed=6, scale=0.05)))
    assert {e["event_id"] for e in other}.isdisjoint(e["event_id"] for e in first)
    assert [e["trace_id"] for e in other] != [e["trace_id"] for e in first]


def test_another_window_gets_other_ids_with_the_same_seed() -> None:
    first = simulate_events(prepare(Options(days=1, start=MONDAY, seed=5, scale=0.02)))
    later = simulate_events(prepare(Options(days=1, start=MONDAY + dt.timedelta(days=1), seed=5, scale=0.02)))
    assert {e["event_id"] for e in later}.isdisjoint(e["event_id"] for e in first)


def test_an_outage_at_peak_opens_the_breaker_and_the_chain_skips_the_model(tmp_path: Path) -> None:
    """At scale 1 the default outage, moved to day 1, has enough traffic for Haiku's breaker to open."""
    document = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    outage = next(i for i in document["incidents"] if i["kind"] == "model_outage")
    document["incidents"] = [{**outage, "at": "day 1 09:30", "duration": "90m"}]
    document["streams"] = [s for s in document["streams"] if s["tenant"] != "initech"]
    path = tmp_path / "outage.yaml"
    path.write_text(yaml.safe_dump(document))
    events = simulate_events(prepare(Options(days=1, start=MONDAY, seed=2, scale=1.0, scenario=path)))
    begin = int(dt.datetime.combine(MONDAY, dt.time(9, 30), tzinfo=dt.UTC).timestamp() * 1e6)
    inside = [e for e in events if begin <= e["ts"] < begin + 5_400_000_000]
    reasons = Counter(e["fallback_reason"] for e in inside if e["fallback_used"])
    assert reasons["circuit_open"] > 100
    assert reasons["outage"] > 0
    skipped = [e for e in inside if e["fallback_reason"] == "circuit_open" and e["outcome"] == "ok"]
    assert all(e["attempts"] == 1 for e in skipped)
    after = [e for e in events if e["ts"] > begin + 5_400_000_000 + 600_000_000 and e["outcome"] == "ok"]
    assert any(e["model_name"] == "anthropic.claude-3-5-haiku-v1" for e in after)


DIGEST_SCRIPT = """
import datetime as dt, hashlib, orjson
from gateway_shim.simulate.run import Options, prepare, simulate_into
events = []
simulate_into(prepare(Options(days=1, start=dt.date(2026, 11, 2), seed=9, scale=0.02)), events.append)
print(len(events), hashlib.sha256(orjson.dumps(events, option=orjson.OPT_SORT_KEYS)).hexdigest())
"""


def test_identical_across_processes_and_hash_seeds() -> None:
    outputs = [
        subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True, timeout=120,
                       check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    ]
    assert int(outputs[0].split()[0]) > 500
    assert outputs[0] == outputs[1]


def test_every_request_gets_exactly_one_event() -> None:
    events: list[dict[str, object]] = []
    stats = simulate_into(prepare(Options(days=1, start=MONDAY, seed=8, scale=0.05)), events.append)
    assert stats.arrivals == stats.events == len(events) > 1000
    assert len({e["trace_id"] for e in events}) == len(events)


def test_the_embedding_workflow_emits_embeddings_events() -> None:
    events = simulate_events(prepare(Options(days=1, start=MONDAY, seed=3, scale=0.05)))
    embedded = [e for e in events if e["workflow"] == "document-embedding"]
    assert embedded and all(e["operation"] == "embeddings" for e in embedded)
    served = [e for e in embedded if e["outcome"] == "ok"]
    assert served and all(e["output_tokens"] == 0 and not e["streamed"] for e in served)
    assert all(e["model_name"] == "amazon.titan-embed-text-v2" for e in served)
    assert all(e["estimated_cost_usd"] > 0 for e in served)
    assert {e["operation"] for e in events if e["workflow"] != "document-embedding"} == {"chat"}


def test_an_embedding_answers_at_once_and_never_times_out(month_events: list[dict[str, Any]]) -> None:
    """An embedding has no output to decode: its answer comes at its first token's time, as the live
    provider sends it, so a few hundred input tokens never reach the 30 s attempt timeout (a timeout
    the provider still serves and bills would be a token mismatch in the reconciliation)."""
    embedded = [e for e in month_events if e["operation"] == "embeddings"]
    served = [e for e in embedded if e["outcome"] == "ok"]
    assert len(served) > 1000
    assert all(e["ttft_ms"] == e["total_latency_ms"] for e in served)
    assert max(e["inference_latency_ms"] for e in served) < 5000
    assert not [e for e in embedded if e["error_type"] == "upstream_timeout"]
