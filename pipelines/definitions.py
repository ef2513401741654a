"""The Dagster code location: ``dg dev`` loads ``defs`` from here (``[tool.dg]`` in pyproject.toml)."""

from __future__ import annotations

import dagster as dg

from pipelines.assets import ALL_ASSETS
from pipelines.checks import ALL_CHECKS
from pipelines.jobs import lake_job, refresh_job
from pipelines.reconciliation_checks import RECONCILIATION_CHECKS
from pipelines.resources import LakeResource, WarehouseResource
from pipelines.schedules import daily_schedule
from pipelines.sensors import lake_sensor


def build_definitions(lake_url: str = "", warehouse: str = "", config_path: str = "") -> dg.Definitions:
    """The definitions with their resources ("" = the environment's defaults)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=[*ALL_CHECKS, *RECONCILIATION_CHECKS],
        jobs=[lake_job, refresh_job],
        sensors=[lake_sensor],
        schedules=[daily_schedule],
        resources={
            "lake": LakeResource(url=lake_url),
            "warehouse": WarehouseResource(path=warehouse, config_path=config_path),
        },
        # Steps share one DuckDB build file: run them one after another in the run's process.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
