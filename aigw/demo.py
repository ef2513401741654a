"""``aigw demo``: simulate recent months, build the warehouse, open the dashboard, say what to try next.

What it simulates depends on today's date only through the calendar's months, never through where in
a month today falls: a quiet baseline month, then the last complete month (with the scenario's
incidents) and the current month so far. The dashboard lands on the last complete month, which
therefore always has a whole month before it to compare with.

Runs on the embedded defaults (the demo config, ``./.aigw/lake``, ``./.aigw/warehouse.duckdb``; the
``AIGW_LAKE``/``AIGW_WAREHOUSE`` overrides apply). Re-running is safe: the demo first removes its own
simulated events (files of gateway ``demo-sim``) from the lake, so the lake never holds two demo runs,
and the pipeline then reloads exactly the days that changed. A missing later piece is named, not fatal.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aigw.signals import interrupt_on_stop_signals
from analytics.warehouse import warehouse_path
from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.telemetry.layout import EVENTS_LAYOUT, EVENTS_PREFIX, POLICIES_PREFIX
from gateway_shim.telemetry.storage import LakeLocation, default_lake_url

if TYPE_CHECKING:
    from gateway_shim.simulate.run import Options

DEMO_GATEWAY = "demo-sim"
DASHBOARD_HOST = "127.0.0.1"
SQL_EXAMPLES = (
    "SELECT tenant_id, round(sum(cost_usd), 2) AS usd FROM marts.cost_daily GROUP BY 1 ORDER BY 2 DESC",
    "SELECT day, kind, subject, severity, detail FROM marts.policy_drift ORDER BY day DESC LIMIT 20",
    "SELECT day, latency_class, model_route, availability, p95_ms, burn_rate FROM marts.slo_daily "
    "ORDER BY burn_rate DESC LIMIT 10",
    "SELECT * FROM marts.showback_monthly",
    "SELECT day, model, status, gateway_vs_logged_tokens, billed_vs_catalog_usd "
    "FROM marts.reconciliation_daily WHERE status <> 'ok' ORDER BY day",
    "SELECT team, identity_arn, sum(requests) AS calls, round(sum(cost_usd), 2) AS usd "
    "FROM marts.shadow_spend GROUP BY ALL",
)
BRIEF_LOADTEST_S = {"steady": 10.0, "budget": 10.0, "fallback": 16.0, "saturation": 20.0, "circuit": 20.0}
"""Seconds of load per playbook in the demo: about twice the shortest run in which every criterion can be
measured (fallback's three phases, saturation's load steps, two of circuit's down/up cycles)."""
PROVIDER_RECORDS = "provider"  # where the demo config keeps the simulated provider's logs and bill
_DEMO_FILE = re.compile(rf"^{re.escape(DEMO_GATEWAY)}-\d{{8}}T")


@dataclass(frozen=True)
class DemoWindow:
    """The demo's days: ``baseline`` (a month of normal traffic), then ``main`` from the first day of
    the last complete month through yesterday, with the scenario's incidents."""

    baseline_start: dt.date
    baseline_days: int
    main_start: dt.date
    main_days: int

    @property
    def landing_month(self) -> str:
        return f"{self.main_start:%Y-%m}"


def demo_window(today: dt.date) -> DemoWindow:
    """The window for ``today`` (UTC): whole calendar months, plus the current month's whole days."""
    main_start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    baseline_start = (main_start - dt.timedelta(days=1)).replace(day=1)
    baseline_days, main_days = (main_start - baseline_start).days, (today - main_start).days
    return DemoWindow(baseline_start, baseline_days, main_start, main_days)


def demo_runs(window: DemoWindow, *, seed: int, scale: float, lake: str) -> list[Options]:
    """The baseline month, then the main window. The simulated provider bills each run's logged calls;
    the baseline is billed through the main run's billed days (its last day and the calls it served
    after midnight included), not cut ``bill_lag_days`` short as if it ended today."""
    from gateway_shim.simulate.run import Options
    from gateway_shim.simulate.scenario import load_scenario

    main = Options(days=window.main_days, start=window.main_start, seed=seed, scale=scale, config=DEMO_CONFIG,
                   lake=lake, gateway_id=DEMO_GATEWAY)
    side = load_scenario(main.scenario).scenario.provider
    lag = side.bill_lag_days if side is not None else 0
    billed_through = window.main_start + dt.timedelta(days=window.main_days - 1 - lag)
    baseline = replace(main, days=window.baseline_days, start=window.baseline_start, incidents=False,
                       bill_through=billed_through)
    return [baseline, main]


def remove_previous_run(lake: LakeLocation) -> int:
    """Delete the event files an earlier ``aigw demo`` wrote (only the demo gateway's), and the simulated
    provider's invocation logs and bill for them; returns how many event files."""
    removed = 0
    for info in lake.list_objects(EVENTS_PREFIX):
        if _DEMO_FILE.match(info.base_name):
            lake.delete(info.path)
            removed += 1
    for info in lake.list_files(PROVIDER_RECORDS):
        if f"_{DEMO_GATEWAY}-" in info.base_name or f"-{DEMO_GATEWAY}-" in info.base_name:
            lake.delete(info.path.removeprefix(lake.root).lstrip("/"))
    return removed


@click.command()
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Simulate as if today were this UTC date, YYYY-MM-DD. Default: today.")
@click.option("--scale", type=click.FloatRange(0, 10, min_open=True), default=1.0, show_default=True,
              help="Traffic scale: multiplies the scenario's normal traffic (1 = about 50k requests/day).")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Same seed, same events (ids too).")
@click.option("--no-loadtests", is_flag=True,
              help="Skip the brief run of each load-test playbook (about 45 s; the review then shows none).")
@click.option("--no-dashboard", is_flag=True, help="Stop once the warehouse is built (for CI).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Dashboard port on 127.0.0.1.")
def demo(today: dt.datetime | None, scale: float, seed: int, no_loadtests: bool, no_dashboard: bool,
         port: int) -> None:
    """Everything end to end on the embedded defaults: simulate a quiet month, the last complete month
    and this month so far, run each load-test playbook briefly, build the warehouse, open the dashboard
    on the last complete month."""
    try:
        with interrupt_on_stop_signals():
            _demo(today, scale, seed, no_loadtests, no_dashboard, port)
    except KeyboardInterrupt:
        click.echo("\naigw demo: stopped (the lake keeps what was written; re-run to start afresh)", err=True)
        raise SystemExit(130) from None


def _demo(today: dt.datetime | None, scale: float, seed: int, no_loadtests: bool, no_dashboard: bool,
          port: int) -> None:
    from gateway_shim.simulate.command import simulate_with_report

    lake_url = default_lake_url()
    lake = LakeLocation.parse(lake_url)
    warehouse = warehouse_path()
    click.echo(f"aigw demo: config {DEMO_CONFIG} (demo keys demo-acme, demo-globex, demo-initech)")
    click.echo(f"  lake      {lake.url}")
    click.echo(f"  warehouse {warehouse}")
    removed = remove_previous_run(lake)
    if removed:
        click.echo(f"  replaced the previous demo run ({removed} event files of gateway {DEMO_GATEWAY})")

    window = demo_window(today.date() if today else dt.datetime.now(dt.UTC).date())
    landing = f"{window.main_start:%B}"
    click.echo(f"\n[1/4] simulate: {window.baseline_start:%B} (baseline, no incidents), then {landing} and "
               f"this month so far (the review opens on {landing} {window.main_start:%Y})")
    for options in demo_runs(window, seed=seed, scale=scale, lake=lake_url):
        if simulate_with_report(options) is None:
            raise SystemExit(1)

    missing: list[str] = []
    _loadtests(lake_url, missing, skip=no_loadtests)

    click.echo("\n[3/4] pipelines: lake -> raw.events -> marts")
    built = _build_warehouse(lake_url, warehouse, missing)
    if built is False:
        raise SystemExit(1)
    if no_dashboard or built is None:
        click.echo("\n[4/4] dashboard: skipped" + ("" if built else " (no warehouse)"))
        _next_steps(lake.url, warehouse, port, missing, dashboard=False)
        return
    click.echo(f"\n[4/4] dashboard on http://{DASHBOARD_HOST}:{port}")
    process = _start_dashboard(warehouse, port, missing)
    _next_steps(lake.url, warehouse, port, missing, dashboard=process is not None)
    if process is None:
        return
    click.echo("Press Ctrl-C to stop the dashboard.")
    try:
        process.wait()
    finally:  # Ctrl-C or SIGTERM: stop the dashboard too
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _loadtests(lake_url: str, missing: list[str], *, skip: bool) -> None:
    """A brief run of every playbook into the demo's lake (a failed run is shown, never fatal)."""
    if skip:
        click.echo("\n[2/4] load tests: skipped (--no-loadtests)")
        return
    try:
        from aigw.demo_loadtests import run_brief_loadtests
        from loadtests.playbooks import PLAYBOOKS
    except ImportError as exc:
        missing.append(f"load tests (cannot import loadtests.playbooks: {exc})")
        click.echo(f"\n[2/4] load tests: missing: {missing[-1]}")
        return
    plan = [(name, BRIEF_LOADTEST_S[name]) for name in PLAYBOOKS if name in BRIEF_LOADTEST_S]
    click.echo(f"\n[2/4] load tests: a brief run of each playbook, all at once "
               f"({', '.join(f'{name} {seconds:g} s' for name, seconds in plan)}), reports into the lake")
    started = time.monotonic()
    runs = run_brief_loadtests(lake_url, lambda line: click.echo(line), plan)
    for run in runs:
        click.echo(f"  {run.outcome()}")
    passed = sum(run.passed for run in runs)
    advice = "" if passed == len(runs) else " (shown as failed; re-run: `aigw loadtest NAME`)"
    click.echo(f"  {passed} of {len(runs)} passed in {time.monotonic() - started:.0f} s{advice}")


def _build_warehouse(lake_url: str, warehouse: Path, missing: list[str]) -> bool | None:
    """True when built, False when the pipeline failed, None when the pipelines are not installed."""
    try:
        from pipelines.run import run_pipeline
    except ImportError as exc:
        missing.append(f"pipelines (cannot import pipelines.run: {exc}): the lake is ready, no warehouse")
        click.echo(f"  missing: {missing[-1]}")
        return None
    outcome = run_pipeline(lake_url=lake_url, warehouse_path=str(warehouse), config_path=str(DEMO_CONFIG),
                           progress=lambda line: click.echo(f"  {line}"))
    for warning in outcome.warnings:
        click.echo(f"  warning: check {warning}")
    for failure in outcome.failed_checks:
        click.echo(f"  check failed: {failure}")
    if not outcome.success:
        for failure in outcome.failures or ["the pipeline run failed (see above)"]:
            click.echo(f"  error: {failure}", err=True)
        return False
    click.echo(f"  warehouse built: {warehouse}")
    return True


def _start_dashboard(warehouse: Path, port: int, missing: list[str]) -> subprocess.Popen[bytes] | None:
    try:
        from dashboards.command import streamlit_argv
    except ImportError as exc:
        missing.append(f"dashboard (cannot import dashboards.command: {exc})")
        click.echo(f"  missing: {missing[-1]}")
        return None
    env = dict(os.environ, AIGW_WAREHOUSE=str(warehouse.resolve()))
    process = subprocess.Popen(streamlit_argv(DASHBOARD_HOST, port), env=env)
    url = f"http://{DASHBOARD_HOST}:{port}/_stcore/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            missing.append(f"dashboard (streamlit exited with status {process.returncode}; "
                           f"is port {port} in use? try --port)")
            click.echo(f"  {missing[-1]}")
            return None
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    click.echo(f"  dashboard ready: http://{DASHBOARD_HOST}:{port}")
                    return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    click.echo("  the dashboard is still starting; it will answer shortly")
    return process


def try_next(port: int) -> list[str]:
    """The commands the demo suggests, exactly as printed (a test runs each of them)."""
    commented = [
        ("DAGSTER_HOME=$PWD/.aigw/dagster dg dev", "the Dagster UI on http://127.0.0.1:3000"),
        (f"aigw dashboard --port {port}", "the review dashboard"),
        ("aigw loadtest fallback", "a Locust playbook against a local gateway and provider"),
        ("aigw simulate --days 7 --seed 7", "another week, into the same lake"),
    ]
    width = max(len(command) for command, _ in commented) + 2
    return [*(f'aigw sql "{query}"' for query in SQL_EXAMPLES),
            *(f"{command:<{width}}# {note}" for command, note in commented)]


def _next_steps(lake: str, warehouse: Path, port: int, missing: list[str], *, dashboard: bool) -> None:
    lines = [
        "",
        "Where everything is:",
        f"  lake       {lake}  ({EVENTS_LAYOUT}, {POLICIES_PREFIX}/*.json)",
        f"  warehouse  {warehouse}",
    ]
    if dashboard:
        lines.append(f"  dashboard  http://{DASHBOARD_HOST}:{port}")
    lines += ["", "What to try (after `source .venv/bin/activate`):"]
    lines += [f"  {hint}" for hint in try_next(port)]
    if missing:
        lines += ["", "Not available yet:"] + [f"  - {item}" for item in missing]
    click.echo("\n".join(lines))
    sys.stdout.flush()
