"""Run the assets in this process (no subprocess, no daemon): what ``aigw pipeline`` and the tests call."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from gateway_shim.telemetry.storage import LakeLocation, default_lake_url
from pipelines.definitions import build_definitions
from pipelines.instance import persistent_instance
from pipelines.lake_events import changed_days, list_event_objects
from pipelines.loading import loaded_manifest, refuse_wrong_lake
from pipelines.partitions import in_window, range_tags
from pipelines.resources import WarehouseResource

RAW_KEY = dg.AssetKey(["raw", "events"])
PUBLISH_KEY = dg.AssetKey(["warehouse"])


@dataclass
class RunOutcome:
    success: bool = True
    days: list[dt.date] = field(default_factory=list)
    skipped_days: list[dt.date] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "asset: reason"
    failed_checks: list[str] = field(default_factory=list)  # ERROR-severity checks that did not pass
    warnings: list[str] = field(default_factory=list)  # WARN-severity checks that did not pass
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> its materialisation metadata


def asset_names(definitions: dg.Definitions) -> dict[str, dg.AssetKey]:
    """Accepted --select names: ``marts.cost_daily``, ``marts/cost_daily`` and ``cost_daily``."""
    names: dict[str, dg.AssetKey] = {}
    for key in definitions.resolve_all_asset_keys():
        path = key.path
        names["/".join(path)] = key
        names[".".join(path)] = key
        names.setdefault(path[-1], key)
    return names


def pending_days(lake_url: str, warehouse: WarehouseResource, *, allow_empty: bool = False) -> list[dt.date]:
    """Days whose lake objects differ from what the warehouse loaded; ``WrongLake`` when the lake is
    missing or empty while the warehouse holds data (unless ``allow_empty``)."""
    lake = LakeLocation.parse(lake_url or default_lake_url(), create=False)
    with warehouse.build_connection() as connection:
        manifest = loaded_manifest(connection)
    objects = list_event_objects(lake)
    refuse_wrong_lake(lake, objects, manifest, allow_empty=allow_empty)
    return sorted(changed_days(objects, manifest))


def run_pipeline(
    *,
    lake_url: str = "",
    warehouse_path: str = "",
    config_path: str = "",
    select: Sequence[str] = (),
    days: Sequence[dt.date] = (),
    allow_empty: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> RunOutcome:
    """Materialise the selection (default: everything) and publish the warehouse.

    ``days`` forces those partitions to reload; without it the raw asset covers the days with new
    lake data. A missing or event-less lake against a warehouse holding data raises ``WrongLake``
    before anything is built, unless ``allow_empty``. ``progress`` gets one line per finished asset
    and per check.
    """
    definitions = build_definitions(lake_url, warehouse_path, config_path)
    names = asset_names(definitions)
    unknown = [name for name in select if name not in names]
    if unknown:
        raise ValueError(f"unknown asset(s) {', '.join(unknown)}; choose from {', '.join(sorted(names))}")
    keys = {names[name] for name in select} if select else set(definitions.resolve_all_asset_keys())
    keys.add(PUBLISH_KEY)
    outcome = RunOutcome()
    force = bool(days)
    if RAW_KEY in keys:
        resource = WarehouseResource(path=warehouse_path, config_path=config_path)
        pending = pending_days(lake_url, resource, allow_empty=allow_empty)
        wanted = sorted(set(days)) if days else pending
        outcome.days = [d for d in wanted if in_window(d)]
        outcome.skipped_days = [d for d in wanted if not in_window(d)]
        if not outcome.days:
            keys.discard(RAW_KEY)
    tags = range_tags(outcome.days[0], outcome.days[-1]) if RAW_KEY in keys else {}
    run_config: dict[str, Any] = {"loggers": QUIET_LOGGERS}
    if RAW_KEY in keys:
        run_config["ops"] = {"raw__events": {"config": {"force": force, "allow_empty": allow_empty}}}
    return execute(definitions, keys, outcome, run_config=run_config, tags=tags, progress=progress)


QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}


def execute(
    definitions: dg.Definitions,
    keys: set[dg.AssetKey],
    outcome: RunOutcome,
    *,
    run_config: dict[str, Any],
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> RunOutcome:
    """One in-process run of ``keys`` (also how benchmarks/pipeline.py times Dagster's own cost)."""
    run_id = str(uuid.uuid4())
    job = definitions.resolve_implicit_global_asset_job_def()
    with persistent_instance() as instance:
        instance.add_event_listener(run_id, _listener(outcome, progress))
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            run_id=run_id,
            asset_selection=sorted(keys, key=str),
            tags=tags,
            raise_on_error=False,
        )
    outcome.success = result.success and not outcome.failures
    return outcome


def _listener(outcome: RunOutcome, progress: Callable[[str], None]) -> Callable[[Any], None]:
    started: dict[str, float] = {}

    def on_event(entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind, step = event.event_type_value, event.step_key or ""
        asset = step.replace("__", "/")
        if kind == "STEP_START":
            started[step] = entry.timestamp
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            name = materialization.asset_key.to_user_string()
            outcome.metadata[name] = {k: v.value for k, v in materialization.metadata.items()}
        elif kind == "STEP_SUCCESS" and asset in outcome.metadata:
            seconds = entry.timestamp - started.get(step, entry.timestamp)
            progress(f"ok      {asset:<24} {seconds:6.2f}s  {_summary(outcome.metadata[asset])}")
        elif kind == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause or error
            reason = cause.message.strip().splitlines()[0] if cause.message.strip() else cause.cls_name
            outcome.failures.append(f"{asset}: {reason}")
            progress(f"FAILED  {asset:<24} {reason}")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                progress(f"check   {name:<40} passed")
                return
            text = f"{name}: {evaluation.description or 'did not pass'}"
            warn = evaluation.severity == dg.AssetCheckSeverity.WARN
            (outcome.warnings if warn else outcome.failed_checks).append(text)
            progress(f"check   {name:<40} {'WARN' if warn else 'FAILED'}: {evaluation.description or ''}")

    return on_event


def _summary(metadata: dict[str, Any]) -> str:
    shown = {k: v for k, v in metadata.items() if isinstance(v, int | float | str) and k != "path"}
    return " ".join(f"{k}={v}" for k, v in shown.items())
