"""The two jobs the sensor and the schedule request: everything, or everything but the lake load."""

from __future__ import annotations

import dagster as dg

from pipelines.assets import ALL_ASSETS, raw_events

lake_job = dg.define_asset_job(
    "lake_job",
    selection=dg.AssetSelection.assets(*ALL_ASSETS),
    description="Load new lake days into raw.events, rebuild the marts, publish the warehouse.",
)
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.assets(*ALL_ASSETS) - dg.AssetSelection.assets(raw_events),
    description="Rebuild the reference tables and marts from raw.events and publish the warehouse.",
)
