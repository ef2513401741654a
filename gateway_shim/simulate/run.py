"""One simulation run end to end: config + scenario → schedule → engine → lake writer (+ policy snapshots).

The library entry point behind ``aigw simulate`` and ``aigw demo``. Validation happens before the
first request: a bad scenario or policy patch fails at once with its file, key and line.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway_shim.config import load_config
from gateway_shim.config.models import Config
from gateway_shim.simulate.engine import Emit, Progress, RunSpec, Simulation, Stats
from gateway_shim.simulate.incidents import Note, Schedule, build_schedule
from gateway_shim.simulate.keys import tenant_keys
from gateway_shim.simulate.scenario import LoadedScenario, check_against, load_scenario
from gateway_shim.simulate.traffic import TrafficModel, expected_requests
from gateway_shim.telemetry.policies import write_policy_snapshot
from gateway_shim.telemetry.storage import LakeLocation, default_lake_url
from gateway_shim.telemetry.writer import LakeWriter

BACKLOG_HIGH = 400_000
"""Pause the virtual clock while the lake writer has this many events waiting (never drop)."""
BACKLOG_LOW = 100_000
EMIT_BATCH = 512
"""Events handed to the lake writer at once (``LakeWriter.emit_many``): small enough that they are
converted while young and cache-hot, large enough for Arrow's per-batch overhead not to count."""


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


@dataclass(slots=True)
class Result:
    spec: RunSpec
    lake_url: str
    stats: Stats
    notes: list[Note]
    seconds: float
    writer: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.stats.events / self.seconds if self.seconds > 0 else 0.0


def default_start(days: int, today: dt.date | None = None) -> dt.date:
    """The last ``days`` whole days (UTC) before today."""
    return (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=days)


def prepare(options: Options) -> Prepared:
    config = load_config(options.config)
    loaded = load_scenario(options.scenario)
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


def simulate_into(prepared: Prepared, emit: Emit, progress: Progress | None = None) -> Stats:
    """Run the engine with ``emit`` as the sink (tests use a list; ``run`` the lake writer)."""
    simulation = Simulation(prepared.spec, prepared.traffic, prepared.schedule, emit,
                            api_keys=prepared.api_keys, prompt_text=prepared.options.prompt_text)
    return simulation.run(progress)


def run(prepared: Prepared, progress: Progress | None = None) -> Result:
    """Simulate into the lake: policy snapshots first, then every event through the lake writer."""
    lake = LakeLocation.parse(prepared.options.lake or default_lake_url())
    origin = dt.datetime.combine(prepared.start, dt.time(), tzinfo=dt.UTC)
    write_policy_snapshot(lake, prepared.config, origin)
    for action in prepared.schedule.actions:
        if action.config is not None:
            write_policy_snapshot(lake, action.config, origin + dt.timedelta(seconds=action.at))
    spool = Path(tempfile.mkdtemp(prefix="aigw-sim-spool-"))
    writer = LakeWriter(lake, prepared.spec.gateway_id, spool_dir=spool, fsync=False).start()
    batches = _Batches(writer)
    began = time.perf_counter()
    try:
        with _old_objects_frozen():
            stats = simulate_into(prepared, batches.emit, _with_backpressure(writer, batches, progress))
            batches.hand_over()
        if not writer.close(timeout=600):
            raise RuntimeError(f"the lake writer could not write everything to {lake.url}: "
                               f"{writer.stats()['last_error']}")
    finally:
        writer.close(timeout=60)
        shutil.rmtree(spool, ignore_errors=True)
    seconds = time.perf_counter() - began
    return Result(prepared.spec, lake.url, stats, prepared.schedule.notes, seconds, dict(writer.stats()))


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes to the objects the run itself creates.

    Events waiting for the writer outlive a few young collections, so some reach the oldest
    generation and start full passes, each of which would also scan every module, pyarrow and
    pydantic object and the config loaded before the run. Left alone if someone else froze first.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Batches:
    """The engine's sink: events go to the writer ``EMIT_BATCH`` at a time, in emission order."""

    def __init__(self, writer: LakeWriter) -> None:
        self._writer = writer
        self._events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        if len(self._events) >= EMIT_BATCH:
            self.hand_over()

    def hand_over(self) -> None:
        """Give the writer what is collected so far (every virtual hour and at the end)."""
        events, self._events = self._events, []
        self._writer.emit_many(events)


def _with_backpressure(writer: LakeWriter, batches: _Batches, progress: Progress | None) -> Progress:
    """After each virtual hour: hand over the events, report progress, wait while the writer is far behind."""

    def on_hour(hours: int, events: int) -> None:
        batches.hand_over()
        if writer.stats()["backlog"] > BACKLOG_HIGH:
            deadline = time.monotonic() + 300
            while writer.stats()["backlog"] > BACKLOG_LOW and time.monotonic() < deadline:
                time.sleep(0.05)
        if progress is not None:
            progress(hours, events)

    return on_hour

