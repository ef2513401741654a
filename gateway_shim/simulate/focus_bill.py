"""The simulated Bedrock's bill: a FOCUS 1.0 export as AWS Data Exports writes it (Parquet).

Computed from the provider's side only: the tokens its invocation logs counted per day and model
(``InvocationLogWriter.usage``) at its own list prices (the scenario's ``provider.prices``, which
need not match the gateway's catalog), less the negotiated discount (billed = effective < list). One
row per day x model x token type (input, output and, as AWS bills them apart, cache reads) up to
the last day billed (``run.py``: by default the run's last ``bill_lag_days`` are not billed yet).
Money is ``Decimal`` written as DECIMAL(38, 10): a price in cents per 1M tokens times a token count
is exact.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gateway_shim.simulate.invocation_log_writer import Usage
from gateway_shim.simulate.scenario import ProviderSide
from gateway_shim.telemetry.storage import LakeLocation

EXPORT = "aigw-sim-focus"
MONEY = pa.decimal128(38, 10)
PRICE = pa.decimal128(38, 12)
QUANTITY = pa.decimal128(38, 6)
TIME = pa.timestamp("ms", tz="UTC")
REGION_CODES = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-2": "USW2",
    "eu-west-1": "EU",
    "eu-central-1": "EUC1",
    "ap-northeast-1": "APN1",
    "ap-southeast-2": "APS2",
}
SCHEMA = pa.schema(
    [
        ("AvailabilityZone", pa.string()),
        ("BilledCost", MONEY),
        ("BillingAccountId", pa.string()),
        ("BillingAccountName", pa.string()),
        ("BillingCurrency", pa.string()),
        ("BillingPeriodEnd", TIME),
        ("BillingPeriodStart", TIME),
        ("ChargeCategory", pa.string()),
        ("ChargeClass", pa.string()),
        ("ChargeDescription", pa.string()),
        ("ChargeFrequency", pa.string()),
        ("ChargePeriodEnd", TIME),
        ("ChargePeriodStart", TIME),
        ("ConsumedQuantity", QUANTITY),
        ("ConsumedUnit", pa.string()),
        ("ContractedCost", MONEY),
        ("ContractedUnitPrice", PRICE),
        ("EffectiveCost", MONEY),
        ("InvoiceIssuerName", pa.string()),
        ("ListCost", MONEY),
        ("ListUnitPrice", PRICE),
        ("PricingCategory", pa.string()),
        ("PricingQuantity", QUANTITY),
        ("PricingUnit", pa.string()),
        ("ProviderName", pa.string()),
        ("PublisherName", pa.string()),
        ("RegionId", pa.string()),
        ("RegionName", pa.string()),
        ("ResourceId", pa.string()),
        ("ServiceCategory", pa.string()),
        ("ServiceName", pa.string()),
        ("SkuId", pa.string()),
        ("SkuPriceId", pa.string()),
        ("SubAccountId", pa.string()),
        ("SubAccountName", pa.string()),
        ("Tags", pa.map_(pa.string(), pa.string())),
        ("x_Discounts", pa.string()),
        ("x_Operation", pa.string()),
        ("x_ServiceCode", pa.string()),
        ("x_UsageType", pa.string()),
    ]
)
_MILLION = Decimal(1_000_000)


def bill_rows(side: ProviderSide, usage: Usage, last_billed: dt.date) -> list[dict[str, Any]]:
    """The FOCUS rows for every (day, model) of ``usage`` up to ``last_billed``."""
    rows = []
    code = REGION_CODES.get(side.region, side.region.upper().replace("-", ""))
    for (day, model), (tokens_in, tokens_out, cache_read) in sorted(usage.items()):
        if day > last_billed:
            continue
        price = side.price_on(model, day)
        if price is None:
            raise ValueError(f"provider.prices: no price for {model} on {day}")
        for kind, quantity, per_mtok in (
            ("input", tokens_in, price.input_per_mtok),
            ("output", tokens_out, price.output_per_mtok),
            ("cache-read-input", cache_read, price.cache_read_price),
        ):
            if quantity:
                rows.append(_row(side, code, day, model, kind, quantity, per_mtok / _MILLION))
    return rows


def _row(
    side: ProviderSide, code: str, day: dt.date, model: str, kind: str, quantity: int, unit: Decimal
) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    period = start.replace(day=1)
    next_period = (period + dt.timedelta(days=32)).replace(day=1)
    list_cost = unit * quantity
    effective = list_cost * (1 - side.discount)
    return {
        "AvailabilityZone": None,
        "BilledCost": effective,
        "BillingAccountId": side.account_id,
        "BillingAccountName": "aigw simulation",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": next_period,
        "BillingPeriodStart": period,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"Amazon Bedrock {model} {kind} tokens",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": start + dt.timedelta(days=1),
        "ChargePeriodStart": start,
        "ConsumedQuantity": Decimal(quantity),
        "ConsumedUnit": "Tokens",
        "ContractedCost": effective,
        "ContractedUnitPrice": unit * (1 - side.discount),
        "EffectiveCost": effective,
        "InvoiceIssuerName": "Amazon Web Services, Inc.",
        "ListCost": list_cost,
        "ListUnitPrice": unit,
        "PricingCategory": "Standard",
        "PricingQuantity": Decimal(quantity),
        "PricingUnit": "Tokens",
        "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.",
        "RegionId": side.region,
        "RegionName": side.region,
        "ResourceId": None,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": "Amazon Bedrock",
        "SkuId": f"{code}-{model}-{kind}",
        "SkuPriceId": f"{code}-{model}-{kind}-{unit.normalize()}",
        "SubAccountId": side.account_id,
        "SubAccountName": "aigw simulation",
        "Tags": [],
        "x_Discounts": f'{{"private_rate_discount": {side.discount}}}' if side.discount else None,
        "x_Operation": "InvokeModelInference",
        "x_ServiceCode": "AmazonBedrock",
        "x_UsageType": f"{code}-{model}-{kind}-tokens",
    }


def write_focus_bill(
    location: LakeLocation, side: ProviderSide, usage: Usage, *, through: dt.date, run_key: str
) -> int:
    """The usage of the days up to ``through`` (the last day billed), one Parquet object per billing
    period under ``<EXPORT>/data/BILLING_PERIOD=YYYY-MM/``; returns rows."""
    rows = bill_rows(side, usage, through)
    periods: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        periods.setdefault(row["BillingPeriodStart"].strftime("%Y-%m"), []).append(row)
    for period, part in periods.items():
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(part, schema=SCHEMA), sink, compression="snappy")
        location.write_bytes(
            f"{EXPORT}/data/BILLING_PERIOD={period}/{EXPORT}-{run_key}-00001.snappy.parquet",
            sink.getvalue().to_pybytes(),
        )
    return len(rows)
