"""``aigw simulate``: days of traffic through the gateway's own code on a virtual clock, into the lake."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from gateway_shim.config import ConfigError
from gateway_shim.simulate.engine import Progress
from gateway_shim.simulate.run import Options, Prepared, Result, prepare, run
from gateway_shim.simulate.scenario import ScenarioError


@click.command()
@click.option("--days", type=click.IntRange(1, 400), required=True, help="How many days to simulate.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (UTC, YYYY-MM-DD). Default: the last DAYS whole days before today.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same events (ids too).")
@click.option("--scale", type=click.FloatRange(0, 100, min_open=True), default=1.0, show_default=True,
              help="Traffic scale: multiplies the scenario's normal traffic (1 = about 50k requests/day).")
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="Scenario YAML (docs/simulate.md). Default: the shipped default scenario.")
@click.option("--lake", default=None,
              help="Lake folder or s3://bucket/prefix. Default: $AIGW_LAKE or ./.aigw/lake.")
@click.option("--config", type=click.Path(dir_okay=False), default=None,
              help="Policy YAML. Default: $AIGW_CONFIG, ./aigw.yaml, else the demo config.")
@click.option("--prompt-text", type=click.Choice(["compact", "full"]), default=None,
              help="Override the scenario's prompt_text (full = true-size prompts, slower).")
def simulate(days: int, start: dt.datetime | None, seed: int, scale: float, scenario: str | None,
             lake: str | None, config: str | None, prompt_text: str | None) -> None:
    """Simulate DAYS of traffic through the gateway's policy, routing and telemetry code into the lake."""
    options = Options(days=days, start=start.date() if start else None, seed=seed, scale=scale,
                      scenario=scenario, config=config, lake=lake, prompt_text=prompt_text)
    result = simulate_with_report(options, echo=click.echo)
    if result is None:
        raise SystemExit(1)


def simulate_with_report(options: Options, echo: Callable[[str], None] = click.echo) -> Result | None:
    """Validate, run with a progress bar on a terminal, print a summary; ``None`` after a printed error."""
    try:
        prepared = prepare(options)
    except (ConfigError, ScenarioError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return None
    spec = prepared.spec
    last = spec.start + dt.timedelta(days=spec.days - 1)
    echo(f"simulating {spec.start} .. {last} ({spec.days} days, seed {spec.seed}, scale {spec.scale:g}, "
         f"about {prepared.expected:,.0f} requests), run_id {spec.run_id}")
    for note in prepared.schedule.notes:
        when = note.when.strftime("%Y-%m-%d %H:%M") if note.when else "-"
        echo(f"  {when:16}  {note.label}: {note.detail}")
    try:
        with _progress(prepared, echo) as progress:
            result = run(prepared, progress)
    except (OSError, RuntimeError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return None
    stats = result.stats
    echo(f"{stats.events:,} events in {result.seconds:.1f} s ({result.events_per_s:,.0f} events/s) "
         f"-> {result.lake_url}; policy versions {', '.join(dict.fromkeys(stats.policy_versions))}")
    records = result.provider_records
    if records is not None:
        echo(f"provider: {records.log_records:,} invocation-log records in {records.log_objects:,} "
             f"objects -> {records.invocation_logs}; {records.bill_rows:,} FOCUS bill rows -> "
             f"{records.billing}")
    return result


PROGRESS_EVERY_S = 5.0
"""Without a terminal, a progress line this often (a log file, CI, `make demo > log`)."""


def progress_lines(prepared: Prepared, echo: Callable[[str], None],
                   clock: Callable[[], float] = time.monotonic) -> Progress:
    """A ``Progress`` that prints one line every ``PROGRESS_EVERY_S`` seconds with the virtual day,
    the share done, the events so far and the rate (and a last line at 100 %)."""
    hours = prepared.spec.days * 24
    origin = dt.datetime.combine(prepared.spec.start, dt.time())
    started = clock()
    last = started

    def advance(done: int, events: int) -> None:
        nonlocal last
        now = clock()
        if now - last < PROGRESS_EVERY_S and done < hours:
            return
        last = now
        rate = events / max(now - started, 1e-9)
        day = origin + dt.timedelta(hours=done)
        echo(f"  simulate {day:%Y-%m-%d %H}h  {100 * done / hours:3.0f}%  {events:,} events  "
             f"{rate:,.0f} events/s")

    return advance


@contextmanager
def _progress(prepared: Prepared, echo: Callable[[str], None]) -> Iterator[Progress | None]:
    """A rich progress bar over virtual hours on a terminal; otherwise a line every few seconds."""
    if not sys.stderr.isatty():
        yield progress_lines(prepared, echo)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    hours = prepared.spec.days * 24
    origin = dt.datetime.combine(prepared.spec.start, dt.time())
    columns = (TextColumn("[bold]simulate[/] {task.fields[day]}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[events]:>12,} events"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("simulate", total=hours, day=f"{origin:%Y-%m-%d}", events=0)

        def advance(done: int, events: int) -> None:
            day = origin + dt.timedelta(hours=done)
            bar.update(task, completed=done, day=f"{day:%Y-%m-%d %H}h", events=events)

        yield advance
