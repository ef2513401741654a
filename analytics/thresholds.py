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
