"""The provider's side of the test lake, written by the test: Bedrock invocation logs and a FOCUS bill.

Logs: one record per Bedrock call the lake's events say was served, with the gateway's trace id in
``requestMetadata`` and, as Bedrock counts them, the cached input apart (``inputTokenCount`` excludes
the cache reads and writes the event's ``input_tokens`` includes), plus calls outside the gateway (a
mapped research role, including a model the gateway never routes, and an unmapped script user).
Traps: an hour's object delivered twice, records repeated in the next hour's object, a malformed
line, a late object for an old day (``add_late_logs``), an object that is not gzip. Bill: per day x
model x token type from the distinct logged calls at the provider's own prices (Haiku's rise billed
from 2026-11-13, two days before the catalog has it) with a 10% discount, cache reads and writes on
their own usage types; 2026-11-20 not billed yet; a billing object that is not Parquet.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gateway_shim.telemetry.provider_records import BILLING_IN_LAKE, INVOCATION_LOGS_IN_LAKE
from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.lakegen import FIRST_DAY, LAST_DAY, Lake

ACCOUNT, REGION = "111122223333", "us-east-1"
GATEWAY_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/aigw-gateway/aigw"
RESEARCH_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/ds-research/alice"
SCRIPT_ARN = f"arn:aws:iam::{ACCOUNT}:user/legacy-script"
UNROUTED_MODEL = "cohere.command-r-v1"
DISCOUNT = Decimal("0.10")
UNBILLED_DAY = LAST_DAY
MALFORMED_LINE = b'{"schemaType": "ModelInvocationLog", "timestamp": "2026-11-09T07:00:00Z", "requestId": '
NOT_GZIP = "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/10/07/broken.json.gz"
NOT_PARQUET = "focus-export/data/BILLING_PERIOD=2026-11/broken.parquet"
TOKEN_TYPES = ("input", "output", "cache-read-input", "cache-write-input")
"""The bill's token types in a price tuple's order (AWS's usage type `<region>-<model>-<type>-tokens`)."""
Prices = tuple[Decimal, Decimal, Decimal, Decimal]
"""USD per 1M tokens: input, output, cache read, cache write."""


def _d(*values: str) -> Prices:
    a, b, c, d = (Decimal(v) for v in values)
    return a, b, c, d


# The provider's own list: the catalog's (a cache price the catalog leaves unset is its input price),
# except Haiku's rise starting two days early.
PROVIDER_PRICES: dict[str, list[tuple[dt.date, Prices]]] = {
    "anthropic.claude-3-5-haiku-v1": [
        (dt.date(2026, 1, 1), _d("0.80", "4.00", "0.08", "1.00")),
        (dt.date(2026, 11, 13), _d("1.00", "5.00", "0.10", "1.25")),
    ],
    "anthropic.claude-3-7-sonnet-v1": [(dt.date(2026, 1, 1), _d("3.00", "15.00", "3.00", "3.00"))],
    "meta.llama3-1-70b-instruct-v1": [(dt.date(2026, 1, 1), _d("0.72", "0.72", "0.72", "0.72"))],
    "amazon.nova-lite-v1": [(dt.date(2026, 1, 1), _d("0.06", "0.24", "0.06", "0.06"))],
    "amazon.titan-text-express-v1": [(dt.date(2026, 1, 1), _d("0.20", "0.60", "0.20", "0.20"))],
    UNROUTED_MODEL: [(dt.date(2026, 1, 1), _d("0.50", "1.50", "0.05", "0.625"))],
}


Pricing = Callable[[str, dt.date], Prices]


def provider_price(model: str, day: dt.date) -> Prices:
    return max((p for p in PROVIDER_PRICES[model] if p[0] <= day), key=lambda p: p[0])[1]


@dataclass
class ProviderRecords:
    logs: LakeLocation
    billing: LakeLocation
    records: list[dict[str, Any]] = field(default_factory=list)  # every distinct valid record
    bill: list[dict[str, Any]] = field(default_factory=list)  # every bill row written


def record(event_or_call: dict[str, Any], request_id: str, arn: str) -> dict[str, Any]:
    """A ModelInvocationLog record as Bedrock writes it (text delivery off: no bodies). The event's
    ``input_tokens`` include its cache reads and writes; Bedrock's ``inputTokenCount`` does not, it
    counts them apart (only when the call reported them)."""
    metadata = event_or_call.get("metadata")
    read, write = event_or_call.get("cache_read_tokens"), event_or_call.get("cache_write_tokens")
    logged_input: dict[str, Any] = {
        "inputContentType": "application/json",
        "inputTokenCount": event_or_call["input_tokens"] - (read or 0) - (write or 0),
    }
    if read is not None or write is not None:
        logged_input |= {"cacheReadInputTokenCount": read or 0, "cacheWriteInputTokenCount": write or 0}
    result = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": event_or_call["ts"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "accountId": ACCOUNT,
        "identity": {"arn": arn},
        "region": REGION,
        "requestId": request_id,
        "operation": "Converse",
        "modelId": event_or_call["model_name"],
        "input": logged_input,
        "output": {
            "outputContentType": "application/json",
            "outputTokenCount": event_or_call["output_tokens"],
        },
    }
    if metadata:
        result["requestMetadata"] = metadata
    return result


def gateway_records(events: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    return [
        record(
            {
                **e,
                "metadata": {
                    "aigw_trace_id": e["trace_id"],
                    "aigw_tenant": e["tenant_id"],
                    "aigw_workflow": e["workflow"] or "",
                },
            },
            str(uuid.UUID(int=rng.getrandbits(128))),
            GATEWAY_ARN,
        )
        for e in events
        if e["model_provider"] == "bedrock" and e["outcome"] == "ok"
    ]


def shadow_records(rng: random.Random) -> list[dict[str, Any]]:
    calls = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for i in range(12):
            model = UNROUTED_MODEL if i % 4 == 0 else "anthropic.claude-3-7-sonnet-v1"
            arn = SCRIPT_ARN if i == 11 else RESEARCH_ARN
            moment = dt.datetime(day.year, day.month, day.day, 9 + i % 8, tzinfo=dt.UTC) + dt.timedelta(
                seconds=rng.randrange(3600)
            )
            tokens_in = rng.randint(500, 9000)
            call = {
                "ts": moment,
                "model_name": model,
                "input_tokens": tokens_in,
                "output_tokens": rng.randint(20, 1500),
            }
            if i % 3 == 1:  # a notebook re-sending a long prompt: read from (or written to) the cache
                call |= {"cache_read_tokens": rng.randint(0, tokens_in // 2),
                         "cache_write_tokens": rng.randint(0, tokens_in // 4)}
            calls.append(record(call, str(uuid.UUID(int=rng.getrandbits(128))), arn))
        day += dt.timedelta(days=1)
    return calls


def object_path(hour: dt.datetime, name: str) -> str:
    return (
        f"AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/{REGION}/{hour:%Y/%m/%d/%H}/"
        f"{ACCOUNT}_BedrockModelInvocationLogs_{REGION}_{hour:%Y%m%dT%H%M}Z_{name}.json.gz"
    )


def write_log_object(location: LakeLocation, path: str, lines: list[bytes]) -> None:
    location.write_bytes(path, gzip.compress(b"".join(line + b"\n" for line in lines)))


def line_of(item: dict[str, Any]) -> bytes:
    return json.dumps(item).encode()


def by_hour(records: list[dict[str, Any]]) -> dict[dt.datetime, list[dict[str, Any]]]:
    """The records grouped by the UTC hour of their timestamp (Bedrock delivers an hour's calls together)."""
    hours: dict[dt.datetime, list[dict[str, Any]]] = {}
    for item in records:
        moment = dt.datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00"))
        hours.setdefault(moment.replace(minute=0, second=0, microsecond=0), []).append(item)
    return dict(sorted(hours.items()))


def write_provider_records(lake: Lake) -> ProviderRecords:
    """Logs for every event so far plus the shadow calls, with the traps, and the bill for them."""
    rng = random.Random(15)
    provider = ProviderRecords(
        LakeLocation.parse(lake.location.path(INVOCATION_LOGS_IN_LAKE)),
        LakeLocation.parse(lake.location.path(BILLING_IN_LAKE)),
    )
    records = gateway_records(lake.events, rng) + shadow_records(rng)
    grouped = by_hour(records)
    hours = list(grouped)
    for i, hour in enumerate(hours):
        lines = [line_of(item) for item in grouped[hour]]
        if hour.date() == dt.date(2026, 11, 9) and hour.hour == 7:
            lines.insert(3, MALFORMED_LINE)
        if i > 0 and hours[i - 1].date() == dt.date(2026, 11, 6):
            # five records repeated in the next hour's object
            lines += [line_of(item) for item in grouped[hours[i - 1]][:5]]
        write_log_object(provider.logs, object_path(hour, "a"), lines)
        if hour.date() == dt.date(2026, 11, 7) and hour.hour == 13:
            write_log_object(provider.logs, object_path(hour, "redelivered"), lines)
    provider.logs.write_bytes(NOT_GZIP, b"this was never gzip")
    provider.records = records
    write_bill(provider)
    provider.billing.write_bytes(NOT_PARQUET, b"not parquet")
    return provider


def add_late_logs(provider: ProviderRecords, late_events: list[dict[str, Any]]) -> str:
    """The late events' calls in one object delivered a day later, and the bill's refresh that includes
    them (the provider billed them when they ran); returns the object's path."""
    late = gateway_records(late_events, random.Random(16))
    hour = dt.datetime.fromisoformat(late[0]["timestamp"].replace("Z", "+00:00")) + dt.timedelta(days=1)
    path = object_path(hour.replace(minute=0, second=0, microsecond=0), "late")
    write_log_object(provider.logs, path, [line_of(item) for item in late])
    provider.records += late
    write_bill(provider)
    return path


def write_bill(provider: ProviderRecords, price: Pricing = provider_price) -> None:
    """FOCUS 1.0 rows per day x model x token type (input, output, cache read, cache write: AWS bills
    cached input on its own usage types), one Parquet object per billing period."""
    usage: dict[tuple[dt.date, str, str], int] = {}
    for item in provider.records:
        day = dt.date.fromisoformat(item["timestamp"][:10])
        if day >= UNBILLED_DAY:
            continue
        counts = (
            item["input"]["inputTokenCount"],
            item["output"]["outputTokenCount"],
            item["input"].get("cacheReadInputTokenCount", 0),
            item["input"].get("cacheWriteInputTokenCount", 0),
        )
        for kind, count in zip(TOKEN_TYPES, counts, strict=True):
            if count or not kind.startswith("cache"):
                key = (day, item["modelId"], kind)
                usage[key] = usage.get(key, 0) + count
    rows = []
    for (day, model, kind), quantity in sorted(usage.items()):
        unit = price(model, day)[TOKEN_TYPES.index(kind)] / Decimal(1_000_000)
        list_cost = unit * quantity
        effective = list_cost * (1 - DISCOUNT)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        rows.append(
            {
                "BilledCost": effective,
                "EffectiveCost": effective,
                "ListCost": list_cost,
                "ListUnitPrice": unit,
                "ChargeCategory": "Usage",
                "ChargePeriodStart": start,
                "ChargePeriodEnd": start + dt.timedelta(days=1),
                "ServiceName": "Amazon Bedrock",
                "SkuId": f"SKU-{model}-{kind}",
                "SkuPriceId": f"PRICE-{model}-{kind}",
                "ConsumedQuantity": Decimal(quantity),
                "ConsumedUnit": "Tokens",
                "PricingQuantity": Decimal(quantity),
                "PricingUnit": "Tokens",
                "RegionId": REGION,
                "SubAccountId": ACCOUNT,
                "Tags": [("user:project", "aigw-test")],
                "x_UsageType": f"USE1-{model}-{kind}-tokens",
                "x_Operation": "Converse",
            }
        )
    provider.bill = rows
    schema = pa.schema(
        [
            ("BilledCost", pa.decimal128(38, 10)),
            ("EffectiveCost", pa.decimal128(38, 10)),
            ("ListCost", pa.decimal128(38, 10)),
            ("ListUnitPrice", pa.decimal128(38, 12)),
            ("ChargeCategory", pa.string()),
            ("ChargePeriodStart", pa.timestamp("ms", tz="UTC")),
            ("ChargePeriodEnd", pa.timestamp("ms", tz="UTC")),
            ("ServiceName", pa.string()),
            ("SkuId", pa.string()),
            ("SkuPriceId", pa.string()),
            ("ConsumedQuantity", pa.decimal128(38, 6)),
            ("ConsumedUnit", pa.string()),
            ("PricingQuantity", pa.decimal128(38, 6)),
            ("PricingUnit", pa.string()),
            ("RegionId", pa.string()),
            ("SubAccountId", pa.string()),
            ("Tags", pa.map_(pa.string(), pa.string())),
            ("x_UsageType", pa.string()),
            ("x_Operation", pa.string()),
        ]
    )
    for period in sorted({r["ChargePeriodStart"].strftime("%Y-%m") for r in rows}):
        part = [r for r in rows if r["ChargePeriodStart"].strftime("%Y-%m") == period]
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(part, schema=schema), sink)
        provider.billing.write_bytes(
            f"focus-export/data/BILLING_PERIOD={period}/focus-export-00001.snappy.parquet",
            sink.getvalue().to_pybytes(),
        )
