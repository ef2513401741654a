"""Thresholds the drift mart applies (bound into ``sql/policy_drift.sql``; documented in docs/analysts.md)."""

from __future__ import annotations

from typing import Final

DRIFT_THRESHOLDS: Final[dict[str, float]] = {
    # Both weeks need this many requests before a week-over-week shift is judged.
    "min_requests": 100,
    # A shift is a relative week-over-week change of at least 50% ...
    "shift_threshold": 0.5,
    # ... and, for rates (fallback, block), an absolute change of at least 2 percentage points.
    "rate_floor": 0.02,
    # A tenant-day whose spend is more than 5% untagged (no workflow or no app) is reported.
    "untagged_share": 0.05,
}

# The cost reconciliation check fails when recomputed and estimated cost differ by more than this.
RECONCILIATION_TOLERANCE: Final = 0.005

# Reconciliation with the provider's records (bound into sql/reconciliation_*.sql; docs/analysts.md).
RECONCILIATION_THRESHOLDS: Final[dict[str, float]] = {
    # Token counts are the provider's own figures on every side: a day x model whose gateway, logged
    # and billed tokens differ by more than 0.1% is a token_mismatch (a lost or late log object, a
    # call the gateway gave up on that the provider still served and billed, a missing bill line).
    "token_tolerance": 0.001,
    # The bill's list cost may differ from the catalog cost of the logged tokens by 0.5% (the same
    # tolerance as the gateway's own estimates): more is a cost_mismatch.
    "cost_tolerance": 0.005,
}
# A billed list unit price more than this far (relative) from the catalog's is a price_catalog_drift.
PRICE_DRIFT_TOLERANCE: Final = 1e-6
