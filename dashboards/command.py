"""`aigw dashboard`: run the Streamlit review app headless on one address."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from aigw.signals import default_stop_signals
from analytics.warehouse import warehouse_path

APP = Path(__file__).with_name("app.py")


def streamlit_argv(host: str, port: int) -> list[str]:
    """The `streamlit run` command line for the app (also used by `aigw demo` and the browser test)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
        "--theme.primaryColor", "#2F6FB3",  # Streamlit's default red would make healthy bars look alarming
    ]  # fmt: skip


@click.command()
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="Port to bind."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Warehouse file. Default: $AIGW_WAREHOUSE or ./.aigw/warehouse.duckdb.",
)
def dashboard(port: int, host: str, warehouse: Path | None) -> None:
    """Run the Streamlit review dashboard: monthly review, showback, SLO, policy drift, load tests.

    It reads the warehouse read-only and picks up a rebuilt warehouse by itself; with no warehouse yet
    it says which command builds one.
    """
    env = dict(os.environ)
    if warehouse is not None:
        env["AIGW_WAREHOUSE"] = str(warehouse.resolve())
    target = warehouse_path(env.get("AIGW_WAREHOUSE") or None)
    click.echo(f"aigw dashboard: http://{host}:{port}  (warehouse {target})", err=True)
    if not target.exists():
        click.echo(f"  no warehouse at {target} yet: run `aigw demo` or `aigw pipeline`", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    default_stop_signals()
    os.execve(sys.executable, streamlit_argv(host, port), env)
