"""``aigw export``: the warehouse's figures in formats other tools read (``focus``: FOCUS 1.0 showback)."""

from __future__ import annotations

from pathlib import Path

import click

from analytics.focus_export import FOCUS_VERSION, focus_rows, parse_month, write_focus
from analytics.warehouse import WarehouseMissing, connect_read_only
from gateway_shim.config import ConfigError, load_config


@click.group()
def export() -> None:
    """Export the warehouse's figures for other tools."""


@export.command()
@click.option("--month", required=True, help="The month to export, YYYY-MM.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .parquet or .csv.",
)
@click.option("--warehouse", type=click.Path(dir_okay=False), default=None,
              help="Warehouse file. Default: $AIGW_WAREHOUSE or ./.aigw/warehouse.duckdb.")
@click.option(
    "--config", type=click.Path(dir_okay=False), default=None,
    help="Policy config (provider names, regions). Default: $AIGW_CONFIG."
)
def focus(month: str, out: Path, warehouse: str | None, config: str | None) -> None:
    """The MONTH's showback as FOCUS 1.0 rows: allocation to tenant, team, app and workflow in Tags and
    x_ columns; costs sum to the cost marts."""
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise click.UsageError(f"--out {out}: the file must end in .parquet or .csv")
    try:
        first = parse_month(month)
    except ValueError as exc:
        raise click.UsageError(f"--month: {exc}") from exc
    try:
        policy = load_config(config)
        with connect_read_only(warehouse) as connection:
            table = focus_rows(connection, first, policy)
    except (WarehouseMissing, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    if table.num_rows == 0:
        raise click.ClickException(f"no cost rows for {first:%Y-%m} in the warehouse: nothing to export")
    write_focus(table, out)
    total = sum(v.as_py() for v in table.column("BilledCost"))
    click.echo(
        f"{out}: {table.num_rows:,} FOCUS {FOCUS_VERSION} rows for {first:%Y-%m}, BilledCost {total:.6f} USD"
    )
