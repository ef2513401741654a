"""The assets by layer: lake → ``raw.events`` (raw.py) → ``ref.*`` (reference.py) → ``marts.*``
(marts.py), the provider's own records → ``raw.invocation_logs``, ``raw.billing`` and the
reconciliation marts (reconciliation.py) → the published warehouse (publish.py).

An asset is keyed by the table it builds, and its SQL is found from that name (docs/pipelines.md,
"Where an asset's SQL lives").
"""

from pipelines.assets.marts import MARTS
from pipelines.assets.publish import published_warehouse
from pipelines.assets.raw import raw_events
from pipelines.assets.reconciliation import RECONCILIATION_ASSETS
from pipelines.assets.reference import ref_policy

ALL_ASSETS = [raw_events, ref_policy, *MARTS, *RECONCILIATION_ASSETS, published_warehouse]

__all__ = ["ALL_ASSETS", "MARTS", "RECONCILIATION_ASSETS", "published_warehouse", "raw_events", "ref_policy"]
