"""The reference tables (``ref.*``) the marts join: pricing, budgets, lane SLOs and policy versions.

They come from the policy config (``load_config``) and the lake's ``policies/`` snapshots, so the
numbers analysts see are computed from the same catalogue they can query.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gateway_shim.config import Config
from gateway_shim.config.diff import changed_keys
from gateway_shim.config.models import Price
from pipelines.json_objects import parse_lake_json

# Snapshot metadata that is not part of the policy itself.
SNAPSHOT_METADATA = ("policy_version", "first_seen")


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    policy_version: str
    first_seen: dt.datetime | None  # naive UTC
    document: dict[str, Any]
    source: str  # "snapshot" or "current_config"


def parse_snapshot(relative_path: str, text: str) -> PolicySnapshot:
    """A ``policies/<version>.json`` object; ``ValueError`` naming the file when it is not one."""
    data = parse_lake_json(relative_path, text)
    version = data.get("policy_version") or relative_path.rsplit("/", 1)[-1].removesuffix(".json")
    first_seen = data.get("first_seen")
    return PolicySnapshot(
        str(version), _utc(first_seen) if first_seen else None, policy_document(data), "snapshot"
    )


def policy_document(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The policy inside a ``policies/<version>.json`` snapshot (nested, or top level beside metadata)."""
    for key in ("document", "config", "policy"):
        nested = snapshot.get(key)
        if isinstance(nested, dict):
            return nested
    return {k: v for k, v in snapshot.items() if k not in SNAPSHOT_METADATA}


def _utc(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(text))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def with_current(snapshots: list[PolicySnapshot], config: Config) -> list[PolicySnapshot]:
    """The snapshots plus the current config when its version has none, oldest first."""
    known = {s.policy_version for s in snapshots}
    everything = list(snapshots)
    if config.policy_version not in known:
        current = PolicySnapshot(
            config.policy_version, None, json.loads(config.canonical_json()), "current_config"
        )
        everything.append(current)
    return sorted(
        everything, key=lambda s: (s.first_seen is None, s.first_seen or dt.datetime.min, s.policy_version)
    )


def _or_input(price: float | None, entry: Price) -> float:
    """A cache price left unset is the input price (docs/policy.md, "Cost")."""
    return entry.input_per_mtok if price is None else price


def pricing_table(config: Config) -> pa.Table:
    rows = [
        {
            "model": model,
            "effective_from": p.effective_from,
            "input_per_mtok": p.input_per_mtok,
            "output_per_mtok": p.output_per_mtok,
            "cache_read_per_mtok": _or_input(p.cache_read_per_mtok, p),
            "cache_write_per_mtok": _or_input(p.cache_write_per_mtok, p),
            "per_request_usd": p.per_request_usd,
            "input_image_usd": p.input_image_usd,
        }
        for model, prices in sorted(config.pricing.items())
        for p in sorted(prices, key=lambda p: p.effective_from)
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("model", pa.string()),
                ("effective_from", pa.date32()),
                ("input_per_mtok", pa.float64()),
                ("output_per_mtok", pa.float64()),
                ("cache_read_per_mtok", pa.float64()),
                ("cache_write_per_mtok", pa.float64()),
                ("per_request_usd", pa.float64()),
                ("input_image_usd", pa.float64()),
            ]
        ),
    )


def budgets_table(config: Config) -> pa.Table:
    rows = [
        {
            "tenant_id": name,
            "team": t.team,
            "monthly_budget_usd": t.monthly_budget_usd,
            "degrade_at_budget_pct": t.degrade_at_budget_pct,
        }
        for name, t in sorted(config.tenants.items())
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("tenant_id", pa.string()),
                ("team", pa.string()),
                ("monthly_budget_usd", pa.float64()),
                ("degrade_at_budget_pct", pa.float64()),
            ]
        ),
    )


def lanes_table(config: Config) -> pa.Table:
    rows = [
        {
            "lane": name,
            "latency_target_ms": lane.slo.latency_ms,
            "latency_percentile": lane.slo.percentile,
            "availability_target": lane.slo.availability,
            "timeout_s": lane.timeout_s,
        }
        for name, lane in sorted(config.lanes.items())
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("lane", pa.string()),
                ("latency_target_ms", pa.float64()),
                ("latency_percentile", pa.float64()),
                ("availability_target", pa.float64()),
                ("timeout_s", pa.float64()),
            ]
        ),
    )


def policies_table(policies: list[PolicySnapshot]) -> pa.Table:
    rows = [
        {
            "policy_version": p.policy_version,
            "first_seen": p.first_seen,
            "source": p.source,
            "document": json.dumps(p.document, sort_keys=True),
        }
        for p in policies
    ]
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("policy_version", pa.string()),
                ("first_seen", pa.timestamp("us")),
                ("source", pa.string()),
                ("document", pa.string()),
            ]
        ),
    )


def allowlist_table(policies: list[PolicySnapshot]) -> pa.Table:
    """One row per (policy version, sensitivity, provider, model); provider "*" and model NULL mean any."""
    rows = []
    for policy in policies:
        data_classes = policy.document.get("data_classes") or {}
        for sensitivity, rule in sorted(data_classes.items()):
            models = rule.get("models") or [None]
            for provider in rule.get("providers") or []:
                for model in models:
                    rows.append(
                        {
                            "policy_version": policy.policy_version,
                            "sensitivity": sensitivity,
                            "provider": provider,
                            "model": model,
                        }
                    )
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("policy_version", pa.string()),
                ("sensitivity", pa.string()),
                ("provider", pa.string()),
                ("model", pa.string()),
            ]
        ),
    )


def policy_changes_table(policies: list[PolicySnapshot]) -> pa.Table:
    """Each snapshot against the one first seen before it: which keys changed, and when."""
    dated = [p for p in policies if p.first_seen is not None]
    rows = []
    for previous, current in zip([None, *dated], dated, strict=False):
        rows.append(
            {
                "policy_version": current.policy_version,
                "previous_version": previous.policy_version if previous else None,
                "first_seen": current.first_seen,
                "changed_keys": changed_keys(previous.document, current.document) if previous else [],
            }
        )
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("policy_version", pa.string()),
                ("previous_version", pa.string()),
                ("first_seen", pa.timestamp("us")),
                ("changed_keys", pa.list_(pa.string())),
            ]
        ),
    )
