"""One simulation run end to end: config + scenario → schedule → engine → lake (+ policy snapshots).

The library entry point behind ``aigw simulate`` and ``aigw demo``. Validation happens before the
first request: a bad scenario or policy patch fails at once with its file, key and line.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway_shim.config import load_config
from gateway_shim.config.models import Config
from gateway_shim.simulate.engine import Emit, Progress, RunSpec, Served, Simulation, Stats
from gateway_shim.simulate.focus_bill import write_focus_bill
from gateway_shim.simulate.incidents import Note, Schedule, build_schedule
from gateway_shim.simulate.invocation_log_writer import InvocationLogWriter
from gateway_shim.simulate.lake_sink import LakeSink
from gateway_shim.simulate.scenario import LoadedScenario, check_against, load_scenario
from gateway_shim.simulate.tenant_keys import tenant_keys
from gateway_shim.simulate.traffic import TrafficModel, expected_requests
from gateway_shim.telemetry.policies import write_policy_snapshot
from gateway_shim.telemetry.provider_records import provider_sources
from gateway_shim.telemetry.storage import LakeLocation, default_lake_url


@dataclass(slots=True)
class Options:
    days: int
    start: dt.date | None = None
    seed: int = 42
    scale: float = 1.0
    scenario: str | Path | None = None
    config: str | Path | None = None
    lake: str | None = None
    gateway_id: str = "sim"
    prompt_text: str | None = None
    incidents: bool = True
    """False: the scenario's normal traffic only (the demo's baseline month before its incidents)."""
    bill_through: dt.date | None = None
    """The last day the provider's bill covers. None: the run's last day less the scenario's
    ``bill_lag_days`` (the run ends today). A run followed by another (the demo's baseline month) is
    billed through the later run's billed days, or its last days would never be billed."""


@dataclass(slots=True)
class Prepared:
    """Everything validated and built, before any request runs."""

    options: Options
    start: dt.date
    config: Config
    loaded: LoadedScenario
    schedule: Schedule
    traffic: TrafficModel
    spec: RunSpec
    api_keys: dict[str, str]
    expected: float


@dataclass(slots=True, frozen=True)
class ProviderRecordsWritten:
    """What the simulated provider wrote beside the lake (the scenario's ``provider`` section)."""

    invocation_logs: str
    log_records: int
    log_objects: int
    billing: str
    bill_rows: int


@dataclass(slots=True)
class Result:
    spec: RunSpec
    lake_url: str
    stats: Stats
    notes: list[Note]
    seconds: float
    events_written: int = 0
    files_written: int = 0
    provider_records: ProviderRecordsWritten | None = None

    @property
    def events_per_s(self) -> float:
        return self.stats.events / self.seconds if self.seconds > 0 else 0.0


def default_start(days: int, today: dt.date | None = None) -> dt.date:
    """The last ``days`` whole days (UTC) before today."""
    return (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=days)


def prepare(options: Options) -> Prepared:
    config = load_config(options.config)
    loaded = load_scenario(options.scenario)
    if not options.incidents:
        quiet = loaded.scenario.model_copy(update={"incidents": [], "name": f"{loaded.scenario.name}-quiet"})
        loaded = LoadedScenario(quiet, loaded.source, loaded.root)
    check_against(loaded, config)
    api_keys = tenant_keys(loaded, config)
    start = options.start or default_start(options.days)
    schedule = build_schedule(loaded, config, start, options.days)
    scenario = loaded.scenario
    run_id = f"sim-{scenario.name}-{start:%Y%m%d}-{options.days}d-seed{options.seed}-x{options.scale:g}"
    identity = hashlib.sha256(
        "\x00".join([run_id, options.gateway_id, config.policy_version, scenario.model_dump_json()]).encode()
    ).hexdigest()
    spec = RunSpec(start, options.days, options.seed, options.scale, options.gateway_id, run_id, identity)
    traffic = TrafficModel(scenario, start, scale=options.scale, seed=options.seed)
    return Prepared(options, start, config, loaded, schedule, traffic, spec, api_keys,
                    expected_requests(traffic, options.days * 24))


def simulate_into(prepared: Prepared, emit: Emit, progress: Progress | None = None,
                  on_served: Served | None = None) -> Stats:
    """Run the engine with ``emit`` as the sink (tests use a list; ``run`` a ``LakeSink``)."""
    simulation = Simulation(prepared.spec, prepared.traffic, prepared.schedule, emit,
                            api_keys=prepared.api_keys, prompt_text=prepared.options.prompt_text,
                            on_served=on_served)
    return simulation.run(progress)


def run(prepared: Prepared, progress: Progress | None = None) -> Result:
    """Simulate into the lake: policy snapshots first, then every event, in hourly Parquet files."""
    lake = LakeLocation.parse(prepared.options.lake or default_lake_url())
    origin = dt.datetime.combine(prepared.start, dt.time(), tzinfo=dt.UTC)
    write_policy_snapshot(lake, prepared.config, origin)
    for action in prepared.schedule.actions:
        if action.config is not None:
            write_policy_snapshot(lake, action.config, origin + dt.timedelta(seconds=action.at))
    run_key = prepared.spec.identity[:16]
    sink = LakeSink(lake, prepared.spec.gateway_id, run_key)
    logs = _provider_logs(prepared, lake, run_key)

    def on_hour(hours: int, events: int) -> None:
        sink.on_hour()
        if logs is not None:
            logs.on_hour(hours)
        if progress is not None:
            progress(hours, events)

    began = time.perf_counter()
    with _old_objects_frozen():
        stats = simulate_into(prepared, sink.emit, on_hour, on_served=logs.served if logs else None)
        sink.close()
        written = _close_provider_records(prepared, lake, logs, run_key)
    seconds = time.perf_counter() - began
    return Result(prepared.spec, lake.url, stats, prepared.schedule.notes, seconds, sink.written,
                  sink.files_written, written)


def _provider_logs(prepared: Prepared, lake: LakeLocation, run_key: str) -> InvocationLogWriter | None:
    """The provider's invocation-log writer, when the scenario has a ``provider`` section."""
    scenario = prepared.loaded.scenario
    if scenario.provider is None:
        return None
    sources = provider_sources(prepared.config, lake)
    return InvocationLogWriter(sources.invocation_logs, scenario, start=prepared.start,
                               scale=prepared.options.scale, seed=prepared.options.seed,
                               run_key=f"{prepared.spec.gateway_id}-{run_key}")


def _close_provider_records(prepared: Prepared, lake: LakeLocation, logs: InvocationLogWriter | None,
                            run_key: str) -> ProviderRecordsWritten | None:
    """The logs' last hours, then the bill computed from what the provider logged."""
    side = prepared.loaded.scenario.provider
    if logs is None or side is None:
        return None
    logs.close()
    billing = provider_sources(prepared.config, lake).billing
    last_day = prepared.start + dt.timedelta(days=prepared.options.days - 1)
    through = prepared.options.bill_through or last_day - dt.timedelta(days=side.bill_lag_days)
    rows = write_focus_bill(billing, side, logs.usage, through=through,
                            run_key=f"{prepared.spec.gateway_id}-{run_key}")
    return ProviderRecordsWritten(logs.location.url, logs.records, logs.objects, billing.url, rows)


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes to the objects the run itself creates.

    Objects that live through part of a run (queued requests, breakers' windows, events not yet
    converted) outlive a few young collections, so some reach the oldest generation and start full
    passes, each of which would also scan every module, pyarrow and pydantic object and the config
    loaded before the run. Left alone if someone else froze first.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
