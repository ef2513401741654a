"""The code location loads (what ``dg dev`` does) with every asset, check and job."""

from __future__ import annotations

import dagster as dg

import pipelines


def test_definitions_load_with_assets_checks_jobs_and_automation() -> None:
    defs = pipelines.defs
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {
        "raw/events",
        "ref/policy",
        "warehouse",
        "marts/cost_daily",
        "marts/showback_monthly",
        "marts/slo_daily",
        "marts/policy_drift",
        "marts/loadtest_runs",
        "marts/slo_alerts",
        "marts/budget_status",
    } <= keys
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "unique_event_ids",
        "no_null_tenant_on_ok",
        "cost_reconciliation",
        "freshness",
        "row_counts_per_partition",
        "quarantine_empty",
    } <= checks
    assert defs.resolve_job_def("lake_job").partitions_def is not None
    assert defs.resolve_sensor_def("lake_sensor") and defs.resolve_schedule_def("daily_schedule")
