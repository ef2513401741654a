"""The code location loads (what ``dg dev`` does) with every asset, check and job."""

from __future__ import annotations

import dagster as dg

import pipelines
from analytics.sql_files import SQL_DIR


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


# SQL that no single asset owns: named after the meta table it keeps, or the warehouse's schema; and
# SQL a command runs rather than an asset (`aigw export focus`: export_focus.sql).
BOOKKEEPING_PREFIXES = (
    "lake_files_", "invocation_log_files_", "day_loads_", "quarantine_", "mart_builds_", "check_passes_",
    "schema", "export_",
)


def test_every_sql_file_is_found_from_the_name_of_the_asset_or_check_that_runs_it() -> None:
    defs = pipelines.defs
    keys = defs.resolve_all_asset_keys()
    marts = {key.path[-1] for key in keys if key.path[0] == "marts"}
    raw = {key.path[-1] for key in keys if key.path[0] == "raw"}
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    prefixes = (
        *(f"raw_{name}_" for name in raw),
        "ref_",
        *(f"{name}_" for name in marts),
        *(f"check_{name}" for name in checks),
        *BOOKKEEPING_PREFIXES,
    )
    stems = {path.stem for path in SQL_DIR.glob("*.sql")}
    stray = [stem for stem in sorted(stems) if stem not in marts and not stem.startswith(prefixes)]
    assert stray == [], "see docs/pipelines.md, 'Where an asset's SQL lives'"
    assert marts <= stems, "each mart is built by analytics/sql/<mart>.sql"
