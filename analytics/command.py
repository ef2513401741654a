"""``aigw sql``: a read-only query on the warehouse, with a time limit and a row cap."""

from __future__ import annotations

import sys

import click
import duckdb

from analytics.locks import describe_lock_conflict
from analytics.output import FORMATS, render_text, write_parquet
from analytics.query import QueryError, run_query
from analytics.warehouse import WarehouseMissing


@click.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table (NULL shown as NULL), csv, json (records) or parquet (needs --output).")
@click.option(
    "--output",
    "output",
    type=click.Path(dir_okay=False),
    help="Write here instead of stdout (required for parquet).",
)
@click.option(
    "--timeout",
    "timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Cancel the query after this many seconds.",
)
@click.option(
    "--max-rows",
    "max_rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Return at most this many rows.",
)
@click.option("--warehouse", "warehouse", type=click.Path(dir_okay=False), default=None,
              help="Warehouse file. Default: $AIGW_WAREHOUSE or ./.aigw/warehouse.duckdb.")
def sql(
    query: str, fmt: str, output: str | None, timeout: float, max_rows: int, warehouse: str | None
) -> None:
    """Run QUERY (DuckDB SQL) read-only on the warehouse, e.g. aigw sql "SELECT * FROM marts.cost_daily"."""
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet needs --output FILE")
    try:
        result = run_query(query, path=warehouse, timeout_s=timeout, max_rows=max_rows)
    except (WarehouseMissing, QueryError) as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:  # opening the file failed: most often another process's lock
        message = str(exc)
        raise click.ClickException(describe_lock_conflict(message) or message.splitlines()[0]) from exc
    if fmt == "parquet":
        assert output is not None
        write_parquet(result.table, output)
    else:
        text = render_text(result.table, fmt)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            click.echo(text, nl=False)
    if result.table.num_rows == 0 and fmt != "table":
        click.echo("0 rows", err=True)
    if result.truncated:
        click.echo(f"note: output capped at {max_rows} rows (--max-rows)", err=True)
    if output:
        click.echo(f"{result.table.num_rows} row(s) written to {output}", err=True)
    sys.stdout.flush()
