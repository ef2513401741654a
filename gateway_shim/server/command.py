"""`aigw serve`: run the gateway. See docs/gateway.md."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from gateway_shim.config.loader import ConfigError, default_config_path, load_config

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_gateway_id() -> str:
    """The host name, made safe for lake file names (stable across restarts, so the spool replays)."""
    name = _UNSAFE.sub("-", socket.gethostname()).strip("-.") or "gateway"
    return re.sub(r"-{2,}", "-", name)


def run_loop(main: Coroutine[Any, Any, int], kind: str) -> int:
    if kind == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


@click.command("serve")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Policy YAML. Default: $AIGW_CONFIG, ./aigw.yaml, else the demo config.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--admin-host", default="127.0.0.1", show_default=True,
              help="Interface of the admin listener (/healthz with identity, /metrics). Keep it private.")
@click.option("--admin-port", default=9464, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the admin listener (0: any free port, printed at start).")
@click.option("--lake", "lake_url", default=None,
              help="Lake folder or s3://bucket/prefix. Default: $AIGW_LAKE or ./.aigw/lake.")
@click.option("--gateway-id", default=None,
              help="This replica's name in events and lake files. Default: host name.")
@click.option("--tls-port", type=click.IntRange(0, 65535), default=None,
              help="Also listen with TLS on this port (boto3 sends bearer tokens over HTTPS only).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="PEM certificate (chain) for --tls-port.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="PEM private key for --tls-port.")
@click.option("--loop", "loop_kind", type=click.Choice(["uvloop", "asyncio"]), default="uvloop",
              show_default=True, help="Event loop implementation.")
@click.option("--drain-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to let in-flight requests finish on SIGTERM.")
@click.option("--policy-poll", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between checks of the policy file for changes (0: reload on SIGHUP only).")
@click.option("--budget-seed-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0),
              envvar="AIGW_BUDGET_SEED_TIMEOUT",
              help="Seconds to retry reading the month's spend from the lake before serving unseeded.")
def serve(config_path: Path | None, host: str, port: int, admin_host: str, admin_port: int,
          lake_url: str | None, gateway_id: str | None,
          tls_port: int | None, tls_cert: Path | None, tls_key: Path | None, loop_kind: str,
          drain_timeout: float, policy_poll: float, budget_seed_timeout: float) -> None:
    """Run the gateway until SIGTERM/SIGINT, then drain, flush telemetry and exit 0."""
    if tls_port is not None and (tls_cert is None or tls_key is None):
        raise click.UsageError("--tls-port needs --tls-cert and --tls-key")
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from gateway_shim.server.runtime import ServeOptions, serve_until_signalled
    from gateway_shim.telemetry.spool import SpoolLocked
    from gateway_shim.telemetry.storage import default_lake_url

    options = ServeOptions(
        host=host, port=port, admin_host=admin_host, admin_port=admin_port,
        lake_url=lake_url or default_lake_url(),
        gateway_id=gateway_id or default_gateway_id(),
        tls_port=tls_port, tls_cert=tls_cert, tls_key=tls_key, drain_timeout_s=drain_timeout,
        budget_seed_timeout_s=budget_seed_timeout, config_path=config_path or default_config_path(),
        policy_poll_s=policy_poll,
    )
    try:
        code = run_loop(serve_until_signalled(config, options), loop_kind)
    except SpoolLocked as exc:
        raise click.ClickException(f"{exc} (another aigw serve with the same --gateway-id or "
                                   f"AIGW_SPOOL is running)") from None
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)
