"""The reconciliation marts computed independently, in plain Python with Decimal, from the raw files the
test wrote (the events, the invocation-log records, the bill rows): docs/analysts.md's definitions
written a second time, never reading the warehouse or the pipeline's SQL. Input counts cached input on
every side, as the events do: a log record's ``inputTokenCount`` plus its cache read and write counts,
the bill's input plus its cache-read and cache-write lines."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import defaultdict
from decimal import Decimal
from typing import Any

from analytics.thresholds import RECONCILIATION_THRESHOLDS
from gateway_shim.config import Config

Key = tuple[dt.date, str, str, str]  # day, account, region, model


def _day(record: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(record["timestamp"][:10])


KINDS = {
    "input": "input",
    "output": "output",
    "cache-read-input": "cache_read",
    "cache-write-input": "cache_write",
}
"""The bill's usage-type token types -> this module's names."""


def gateway_traces(events: list[dict[str, Any]]) -> set[str]:
    return {e["trace_id"] for e in events if e["trace_id"]}


def logged_counts(record: dict[str, Any]) -> dict[str, int]:
    """(uncached input, output, cache read, cache write) of a log record, by name."""
    return {
        "input": record["input"]["inputTokenCount"],
        "output": record["output"]["outputTokenCount"],
        "cache_read": record["input"].get("cacheReadInputTokenCount", 0),
        "cache_write": record["input"].get("cacheWriteInputTokenCount", 0),
    }


def usage_of(bill_row: dict[str, Any]) -> tuple[str, str]:
    """(model, token kind) of a bill row, from its usage type `<region>-<model>-<type>-tokens`."""
    usage = bill_row["x_UsageType"].split("-", 1)[1].removesuffix("-tokens")
    for kind in sorted(KINDS, key=len, reverse=True):
        if usage.endswith(f"-{kind}"):
            return usage.removesuffix(f"-{kind}"), KINDS[kind]
    raise AssertionError(bill_row["x_UsageType"])


def catalog_cost(price: Any, tokens: dict[str, int]) -> float:
    """USD at the catalog's price: the uncached input at the input price, the cache at its own prices
    (unset: the input price). ``tokens["input"]`` includes the cache."""
    read = price.input_per_mtok if price.cache_read_per_mtok is None else price.cache_read_per_mtok
    write = price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    uncached = tokens["input"] - tokens["cache_read"] - tokens["cache_write"]
    return (
        uncached * price.input_per_mtok
        + tokens["cache_read"] * read
        + tokens["cache_write"] * write
        + tokens["output"] * price.output_per_mtok
    ) / 1e6


def reconciliation_daily(
    events: list[dict[str, Any]], records: list[dict[str, Any]], bill: list[dict[str, Any]], config: Config
) -> dict[Key, dict[str, Any]]:
    account = config.reconciliation.account_id
    assert account is not None
    zero = {"requests": 0, "input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
    rows: dict[Key, dict[str, Any]] = defaultdict(
        lambda: {
            "gateway": dict(zero),
            "logged": dict(zero),
            "logged_gateway": dict(zero),
            "billed": {
                "input": 0,
                "output": 0,
                "cache_read": 0,
                "cache_write": 0,
                "list": Decimal(0),
                "effective": Decimal(0),
                "billed": Decimal(0),
            },
            "has_bill": False,
        }
    )
    for e in events:
        provider = e["model_provider"]
        if (
            provider not in config.bedrock_providers()
            or not e["model_name"]
            or e["outcome"] == "upstream_error"
        ):
            continue
        side = rows[(e["ts"].date(), account, config.providers[provider].region or "", e["model_name"])][
            "gateway"
        ]
        side["requests"] += 1
        side["input"] += e["input_tokens"] or 0
        side["output"] += e["output_tokens"] or 0
        side["cache_read"] += e.get("cache_read_tokens") or 0
        side["cache_write"] += e.get("cache_write_tokens") or 0
    traces = gateway_traces(events)
    for r in records:
        row = rows[(_day(r), r["accountId"], r["region"], r["modelId"])]
        sides = [row["logged"]]
        if r.get("requestMetadata", {}).get("aigw_trace_id") in traces:
            sides.append(row["logged_gateway"])
        counts = logged_counts(r)
        for side in sides:
            side["requests"] += 1
            side["input"] += counts["input"] + counts["cache_read"] + counts["cache_write"]
            side["output"] += counts["output"]
            side["cache_read"] += counts["cache_read"]
            side["cache_write"] += counts["cache_write"]
    for b in bill:
        model, kind = usage_of(b)
        row = rows[(b["ChargePeriodStart"].date(), b["SubAccountId"], b["RegionId"], model)]
        row["has_bill"] = True
        row["billed"][kind] += int(b["ConsumedQuantity"])
        if kind.startswith("cache"):
            row["billed"]["input"] += int(b["ConsumedQuantity"])
        row["billed"]["list"] += b["ListCost"]
        row["billed"]["effective"] += b["EffectiveCost"]
        row["billed"]["billed"] += b["BilledCost"]
    last_billed = max(b["ChargePeriodStart"].date() for b in bill)
    logged_days = {_day(r) for r in records}
    tokens_tol = RECONCILIATION_THRESHOLDS["token_tolerance"]
    cost_tol = RECONCILIATION_THRESHOLDS["cost_tolerance"]
    for (day, _, _, model), row in rows.items():
        price = config.price_on(model, day)
        logged = row["logged"]
        row["catalog_cost"] = None if price is None else catalog_cost(price, logged)
        gateway = row["gateway"]
        row["gateway_cost"] = 0.0 if price is None else catalog_cost(price, gateway)
        gw_tokens = gateway["input"] + gateway["output"]
        lg_tokens = row["logged_gateway"]["input"] + row["logged_gateway"]["output"]
        all_logged = logged["input"] + logged["output"]
        billed_tokens = row["billed"]["input"] + row["billed"]["output"]
        no_bill = day > last_billed
        if day not in logged_days:
            status = "no_logs"
        elif abs(gw_tokens - lg_tokens) > tokens_tol * max(gw_tokens, lg_tokens) or (
            not no_bill and abs(all_logged - billed_tokens) > tokens_tol * max(all_logged, billed_tokens)
        ):
            status = "token_mismatch"
        elif no_bill:
            status = "no_bill_yet"
        elif all_logged > 0 and row["catalog_cost"] is None:
            status = "no_catalog_price"
        else:
            billed_list = float(row["billed"]["list"])
            catalog = row["catalog_cost"] or 0.0
            status = (
                "cost_mismatch" if abs(billed_list - catalog) > cost_tol * max(billed_list, catalog) else "ok"
            )
        row["status"] = status
    return dict(rows)


def effective_rates(
    bill: list[dict[str, Any]],
) -> dict[tuple[str, str, str, str], list[tuple[dt.date, Decimal]]]:
    """(account, region, model, token type) -> [(day, effective cost per token)], by day."""
    sums: dict[tuple[str, str, str, str, dt.date], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)]
    )
    for b in bill:
        model, kind = usage_of(b)
        entry = sums[(b["SubAccountId"], b["RegionId"], model, kind, b["ChargePeriodStart"].date())]
        entry[0] += b["EffectiveCost"]
        entry[1] += b["ConsumedQuantity"]
    rates: dict[tuple[str, str, str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for (account, region, model, kind, day), (cost, quantity) in sorted(sums.items()):
        rates[(account, region, model, kind)].append((day, cost / quantity))
    return rates


def shadow_spend(
    events: list[dict[str, Any]], records: list[dict[str, Any]], bill: list[dict[str, Any]], config: Config
) -> dict[tuple[dt.date, str, str, str], dict[str, Any]]:
    """(day, identity, team, model) -> requests, tokens (input incl. cache), cost at the bill's effective
    rate per token type (as of the day)."""
    traces = gateway_traces(events)
    rates = effective_rates(bill)
    rows: dict[tuple[dt.date, str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
    )
    for r in records:
        if r.get("requestMetadata", {}).get("aigw_trace_id") in traces:
            continue
        arn = r["identity"]["arn"]
        teams = [(len(p), i.team) for p, i in config.identities.items() if fnmatch.fnmatchcase(arn, p)]
        team = max(teams)[1] if teams else "unmapped"
        row = rows[(_day(r), arn, team, r["modelId"])]
        row["requests"] += 1
        for kind, count in logged_counts(r).items():
            row[kind] += count
        row["account"], row["region"] = r["accountId"], r["region"]
    for (day, _, _, model), row in rows.items():
        cost = Decimal(0)
        for kind in ("input", "output", "cache_read", "cache_write"):
            known = [
                rate
                for when, rate in rates.get((row["account"], row["region"], model, kind), [])
                if when <= day
            ]
            if known:
                cost += row[kind] * known[-1]
        row["cost"] = cost
        row["input"] += row["cache_read"] + row["cache_write"]
    return dict(rows)
