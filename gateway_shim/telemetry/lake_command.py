"""`aigw lake`: tools for the lake itself; `aigw lake ddl` prints the external-table DDL of `events`."""

from __future__ import annotations

import datetime as dt

import click

from gateway_shim.telemetry.lake_ddl import ENGINES, DdlError, events_ddl
from gateway_shim.telemetry.storage import default_lake_url


@click.group("lake")
def lake() -> None:
    """Lake tools (see docs/lake.md)."""


@lake.command("ddl")
@click.option("--engine", type=click.Choice(ENGINES), required=True, help="Query engine to write DDL for.")
@click.option("--lake", "lake_url", default=None,
              help="Lake folder or s3://bucket/prefix. Default: $AIGW_LAKE or ./.aigw/lake.")
@click.option("--table", default="events", show_default=True, help="Table name.")
@click.option("--schema", "schema_name", default="aigw", show_default=True,
              help="Database (Athena, Spark) or schema of the hive catalog (Trino).")
@click.option("--first-day", type=click.DateTime(["%Y-%m-%d"]), default="2025-01-01", show_default=True,
              help="First dt of Athena's partition projection.")
def ddl(engine: str, lake_url: str | None, table: str, schema_name: str, first_day: dt.datetime) -> None:
    """Print the DDL that makes ENGINE read the lake's events (columns from the event schema,
    Hive partitions dt/hour; partition projection on Athena)."""
    try:
        text = events_ddl(engine, lake_url or default_lake_url(), table=table,  # type: ignore[arg-type]
                          schema=schema_name, first_day=first_day.date())
    except DdlError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text, nl=False)
