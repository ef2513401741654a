"""``aigw pipeline``: materialise the assets in this process, one progress line per asset."""

from __future__ import annotations

import datetime as dt

import click

from gateway_shim.config import ConfigError


def _parse_days(text: str | None) -> list[dt.date]:
    if not text:
        return []
    first_text, _, last_text = text.partition("..")
    try:
        first = dt.date.fromisoformat(first_text)
        last = dt.date.fromisoformat(last_text) if last_text else first
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from exc
    if last < first:
        raise click.BadParameter(f"{text!r}: the range ends before it starts")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@click.command()
@click.option(
    "--select",
    "select",
    multiple=True,
    metavar="ASSET",
    help="Asset to build (repeatable): raw.events, ref.policy, marts.cost_daily, ... Default: all.",
)
@click.option(
    "--partition",
    "partition",
    metavar="DAY[..DAY]",
    help="Reload these days even if unchanged. Default: the days with new lake data.",
)
@click.option("--lake", "lake", default="",
              help="Lake folder or s3://bucket/prefix. Default: $AIGW_LAKE or ./.aigw/lake.")
@click.option("--warehouse", "warehouse", type=click.Path(dir_okay=False), default="",
              help="Warehouse file. Default: $AIGW_WAREHOUSE or ./.aigw/warehouse.duckdb.")
@click.option(
    "--config", "config", type=click.Path(dir_okay=False), default="",
    help="Policy YAML (pricing, budgets, SLOs). Default: $AIGW_CONFIG, ./aigw.yaml, else the demo config."
)
@click.option(
    "--allow-empty",
    "allow_empty",
    is_flag=True,
    help="Load a missing or event-less lake even if the warehouse holds data (empties it: a fresh start).",
)
def pipeline(
    select: tuple[str, ...], partition: str | None, lake: str, warehouse: str, config: str, allow_empty: bool
) -> None:
    """Build the warehouse: lake -> raw.events -> ref.* -> marts.*, then publish it atomically.

    Exit status: 0 built and every check passed; 1 an asset failed (named with the reason);
    2 built and published, but a check failed (named with the reason).
    """
    from pipelines.run import run_pipeline

    days = _parse_days(partition)
    names = [name for item in select for name in item.split(",") if name]
    try:
        outcome = run_pipeline(
            lake_url=lake,
            warehouse_path=warehouse,
            config_path=config,
            select=names,
            days=days,
            allow_empty=allow_empty,
            progress=click.echo,
        )
    except (ValueError, ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if outcome.skipped_days:
        click.echo(
            f"warning: {len(outcome.skipped_days)} lake day(s) outside the partition window were not "
            f"loaded: {', '.join(d.isoformat() for d in outcome.skipped_days[:5])}",
            err=True,
        )
    if not outcome.success:
        for failure in outcome.failures or ["the run failed (see the lines above)"]:
            click.echo(f"error: asset {failure}", err=True)
        raise SystemExit(1)
    for warning in outcome.warnings:
        click.echo(f"warning: check {warning}", err=True)
    if outcome.failed_checks:
        for failure in outcome.failed_checks:
            click.echo(f"error: check {failure}", err=True)
        raise SystemExit(2)
    loaded = f"{len(outcome.days)} day(s) loaded" if outcome.days else "no new lake data"
    click.echo(f"warehouse published ({loaded})")
