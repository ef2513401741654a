"""The last step of every run: the finished build file swapped over the warehouse readers open."""

# No `from __future__ import annotations` here: Dagster reads the parameter annotations
# (config and resource types) at definition time and cannot resolve strings.

import dagster as dg

from pipelines.assets.marts import MARTS
from pipelines.assets.raw import raw_events
from pipelines.assets.reconciliation import RECONCILIATION_ASSETS
from pipelines.assets.reference import ref_policy
from pipelines.resources import WarehouseResource


@dg.asset(
    key=["warehouse"], deps=[raw_events, ref_policy, *MARTS, *RECONCILIATION_ASSETS], group_name="publish"
)
def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The published warehouse file readers open: the finished build, swapped in atomically."""
    path = warehouse.publish()
    return dg.MaterializeResult(metadata={"path": str(path), "bytes": path.stat().st_size})
