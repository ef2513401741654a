"""The reconciliation marts computed independently, in plain Python with Decimal, from the raw files the
test wrote (the events, the invocation-log records, the bill rows): docs/analysts.md's definitions
written a second time, never reading the warehouse or the pipeline's SQL."""

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


def gateway_traces(events: list[dict[str, Any]]) -> set[str]:
    return {e["trace_id"] for e in events if e["trace_id"]}


def reconciliation_daily(
    events: list[dict[str, Any]], records: list[dict[str, Any]], bill: list[dict[str, Any]], config: Config
) -> dict[Key, dict[str, Any]]:
    account = config.reconciliation.account_id
    assert account is not None
    zero = {"requests": 0, "input": 0, "output": 0}
    rows: dict[Key, dict[str, Any]] = defaultdict(
        lambda: {
            "gateway": dict(zero),
            "logged": dict(zero),
            "logged_gateway": dict(zero),
            "billed": {
                "input": 0,
                "output": 0,
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
    traces = gateway_traces(events)
    for r in records:
        row = rows[(_day(r), r["accountId"], r["region"], r["modelId"])]
        sides = [row["logged"]]
        if r.get("requestMetadata", {}).get("aigw_trace_id") in traces:
            sides.append(row["logged_gateway"])
        for side in sides:
            side["requests"] += 1
            side["input"] += r["input"]["inputTokenCount"]
            side["output"] += r["output"]["outputTokenCount"]
    for b in bill:
        usage = b["x_UsageType"].split("-", 1)[1]
        model, kind = usage.removesuffix("-input-tokens"), "input"
        if usage.endswith("-output-tokens"):
            model, kind = usage.removesuffix("-output-tokens"), "output"
        row = rows[(b["ChargePeriodStart"].date(), b["SubAccountId"], b["RegionId"], model)]
        row["has_bill"] = True
        row["billed"][kind] += int(b["ConsumedQuantity"])
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
        row["catalog_cost"] = (
            None
            if price is None
            else (logged["input"] * price.input_per_mtok + logged["output"] * price.output_per_mtok) / 1e6
        )
        gateway = row["gateway"]
        row["gateway_cost"] = (
            0.0
            if price is None
            else (gateway["input"] * price.input_per_mtok + gateway["output"] * price.output_per_mtok) / 1e6
        )
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
        usage = b["x_UsageType"].split("-", 1)[1]
        kind = "output" if usage.endswith("-output-tokens") else "input"
        model = usage.removesuffix(f"-{kind}-tokens")
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
    """(day, identity, team, model) -> requests, tokens, cost at the bill's effective rate (as of the day)."""
    traces = gateway_traces(events)
    rates = effective_rates(bill)
    rows: dict[tuple[dt.date, str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "input": 0, "output": 0}
    )
    for r in records:
        if r.get("requestMetadata", {}).get("aigw_trace_id") in traces:
            continue
        arn = r["identity"]["arn"]
        teams = [(len(p), i.team) for p, i in config.identities.items() if fnmatch.fnmatchcase(arn, p)]
        team = max(teams)[1] if teams else "unmapped"
        row = rows[(_day(r), arn, team, r["modelId"])]
        row["requests"] += 1
        row["input"] += r["input"]["inputTokenCount"]
        row["output"] += r["output"]["outputTokenCount"]
        row["account"], row["region"] = r["accountId"], r["region"]
    for (day, _, _, model), row in rows.items():
        cost = Decimal(0)
        for kind in ("input", "output"):
            known = [
                rate
                for when, rate in rates.get((row["account"], row["region"], model, kind), [])
                if when <= day
            ]
            if known:
                cost += row[kind] * known[-1]
        row["cost"] = cost
    return dict(rows)
