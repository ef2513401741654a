"""Asset checks on the reconciliation: they fail loudly, naming each day and model, when the gateway,
the invocation logs and the bill disagree on tokens, or the bill's cost differs from the catalog's
beyond the stated tolerance (analytics/thresholds.py).

Their severity is WARN: a finding is about the world (a late bill, a price the catalog learnt late, a
call the provider served after the gateway gave up), not a broken warehouse, so the run still
publishes and `aigw pipeline` exits 0 while printing each finding; the gateway's own checks stay ERROR."""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg

from analytics.sql_files import load_sql
from analytics.thresholds import RECONCILIATION_THRESHOLDS
from pipelines.assets.reconciliation import reconciliation_daily
from pipelines.resources import WarehouseResource

TOKENS = RECONCILIATION_THRESHOLDS["token_tolerance"]
COST = RECONCILIATION_THRESHOLDS["cost_tolerance"]


def _findings(warehouse: WarehouseResource, status: str) -> list[str]:
    with warehouse.build_connection() as connection:
        rows = connection.execute(load_sql("reconciliation_daily_status_rows"), {"status": status}).fetchall()
    return [str(detail) for (detail,) in rows]


@dg.asset_check(
    asset=reconciliation_daily,
    description=f"Gateway, logged and billed tokens agree within {TOKENS:.1%} per day, account, region "
    "and model.",
)
def tokens_reconcile(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    found = _findings(warehouse, "token_mismatch")
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"mismatches": len(found), "rows": dg.MetadataValue.json(found[:50])},
        description=f"tokens disagree on {len(found)} day(s) x model: " + "; ".join(found[:10])
        if found
        else None,
    )


@dg.asset_check(
    asset=reconciliation_daily,
    description=f"The bill's list cost is within {COST:.1%} of the catalog cost of the logged tokens per "
    "day, account, region and model.",
)
def cost_reconciles_with_bill(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    found = _findings(warehouse, "cost_mismatch")
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"mismatches": len(found), "rows": dg.MetadataValue.json(found[:50])},
        description=f"billed cost differs from the catalog on {len(found)} day(s) x model: "
        + "; ".join(found[:10])
        if found
        else None,
    )


RECONCILIATION_CHECKS = [tokens_reconcile, cost_reconciles_with_bill]
