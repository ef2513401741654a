"""The simulated provider's own records: invocation logs for every call it serves (the gateway's and a
direct team's) and a FOCUS bill from its own prices, checked against the events and the scenario."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from gateway_shim.simulate.run import Options, Result, prepare, run
from gateway_shim.telemetry.storage import LakeLocation

START = dt.date(2026, 11, 10)
DAYS = 4
RESEARCH = "arn:aws:sts::111122223333:assumed-role/ds-research/notebook"
GATEWAY = "arn:aws:sts::111122223333:assumed-role/aigw-gateway/aigw-demo"
HAIKU = "anthropic.claude-3-5-haiku-v1"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, LakeLocation]:
    lake = LakeLocation.parse(str(tmp_path_factory.mktemp("provider") / "lake"))
    result = run(prepare(Options(days=DAYS, start=START, seed=5, scale=0.05, lake=lake.url)))
    return result, lake


def _records(lake: LakeLocation) -> list[dict[str, Any]]:
    records = []
    root = Path(lake.path("provider/invocation-logs"))
    for path in sorted(root.rglob("*.json.gz")):
        assert path.relative_to(root).parts[:3] == ("AWSLogs", "111122223333", "BedrockModelInvocationLogs")
        records += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return records


def _events(lake: LakeLocation) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(Path(lake.path("events/v1")).rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def _bill(lake: LakeLocation) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(Path(lake.path("provider/focus")).rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def test_every_served_bedrock_call_is_logged_with_the_gateways_join_keys(
    simulated: tuple[Result, LakeLocation],
) -> None:
    result, lake = simulated
    records = _records(lake)
    assert result.provider_records is not None and result.provider_records.log_records == len(records)
    assert len({r["requestId"] for r in records}) == len(records)
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if "requestMetadata" in r:
            by_trace[r["requestMetadata"]["aigw_trace_id"]].append(r)
    served = [e for e in _events(lake) if e["model_provider"] == "bedrock" and e["outcome"] == "ok"]
    assert served
    for event in served:
        logged = by_trace[event["trace_id"]]
        last = logged[-1]
        assert last["modelId"] == event["model_name"]
        # As Bedrock counts it: the cached input apart from inputTokenCount (the event includes it).
        read = event["cache_read_tokens"] or 0
        assert (last["input"]["inputTokenCount"], last["output"]["outputTokenCount"]) == (
            event["input_tokens"] - read,
            event["output_tokens"],
        )
        assert last["input"].get("cacheReadInputTokenCount", 0) == read
        assert last["input"].get("cacheWriteInputTokenCount", 0) == 0
        assert last["requestMetadata"]["aigw_tenant"] == event["tenant_id"]
        assert last["identity"]["arn"] == GATEWAY
    assert any(e["cache_read_tokens"] for e in served)  # long prompts read the cache
    models = {r["modelId"] for r in records}
    assert HAIKU in models and not models & {"gpt-4o-mini", "mistral-7b-instruct"}  # other providers' models


def test_the_research_team_calls_bedrock_directly_on_weekdays(simulated: tuple[Result, LakeLocation]) -> None:
    _, lake = simulated
    direct = [r for r in _records(lake) if r["identity"]["arn"] == RESEARCH]
    assert direct and all("requestMetadata" not in r for r in direct)
    days = {dt.date.fromisoformat(r["timestamp"][:10]) for r in direct}
    assert days <= {START + dt.timedelta(days=i) for i in range(DAYS)}
    per_day = [sum(1 for r in direct if r["timestamp"].startswith(str(d))) for d in sorted(days)]
    assert all(10 <= n <= 40 for n in per_day), per_day  # 400/day at 5% on weekdays (Tue-Fri)


def test_the_bill_is_the_logged_tokens_at_the_providers_prices_less_the_discount(
    simulated: tuple[Result, LakeLocation],
) -> None:
    _, lake = simulated
    usage: dict[tuple[dt.date, str, str], int] = defaultdict(int)
    for r in _records(lake):
        day = dt.date.fromisoformat(r["timestamp"][:10])
        usage[(day, r["modelId"], "input")] += r["input"]["inputTokenCount"]
        usage[(day, r["modelId"], "output")] += r["output"]["outputTokenCount"]
        usage[(day, r["modelId"], "cache-read-input")] += r["input"].get("cacheReadInputTokenCount", 0)
    last_billed = START + dt.timedelta(days=DAYS - 2)  # bill_lag_days: 1
    wanted = {k: v for k, v in usage.items() if k[0] <= last_billed and v}
    bill = _bill(lake)
    got = {}
    for row in bill:
        usage_type = row["x_UsageType"].removeprefix("USE1-").removesuffix("-tokens")
        kind = next(k for k in ("cache-read-input", "input", "output") if usage_type.endswith(f"-{k}"))
        got[(row["ChargePeriodStart"].date(), usage_type.removesuffix(f"-{kind}"), kind)] = row
    assert got.keys() == wanted.keys()
    assert any(kind == "cache-read-input" for _, _, kind in got)
    haiku_input = {"2026-11-10": Decimal("0.80"), "2026-11-12": Decimal("1.00")}
    haiku_cache_read = {"2026-11-10": Decimal("0.08"), "2026-11-12": Decimal("0.10")}
    for key, row in got.items():
        assert row["ConsumedQuantity"] == wanted[key]
        assert row["ListCost"] == row["ListUnitPrice"] * wanted[key]
        assert row["EffectiveCost"] == row["BilledCost"] == row["ListCost"] * Decimal("0.9")
        assert row["EffectiveCost"] < row["ListCost"]
        if key[1] == HAIKU and key[2] == "input" and str(key[0]) in haiku_input:
            assert row["ListUnitPrice"] * 1_000_000 == haiku_input[str(key[0])]  # the provider's own rise
        if key[1] == HAIKU and key[2] == "cache-read-input" and str(key[0]) in haiku_cache_read:
            assert row["ListUnitPrice"] * 1_000_000 == haiku_cache_read[str(key[0])]
    assert {row["ServiceName"] for row in bill} == {"Amazon Bedrock"}
