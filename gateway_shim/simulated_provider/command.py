"""`aigw provider`: run the simulated model provider (OpenAI and Bedrock Converse wire formats) with its
fault-injection control API, and optionally Bedrock's model-invocation logs. See docs/provider.md."""

from __future__ import annotations

import re
import signal
import socket
from types import FrameType

import click
import uvicorn

from gateway_shim.simulated_provider.invocation_log_sink import DEFAULT_ACCOUNT_ID, InvocationLogSink
from gateway_shim.simulated_provider.server import (
    TIME_SCALE_ENV,
    ProviderApp,
    time_scale_from_env,
    uvicorn_config,
)
from gateway_shim.simulated_provider.simulated_model import SimulatedModel
from gateway_shim.telemetry.storage import LakeLocation

INVOCATION_LOGS_ENV = "AIGW_PROVIDER_INVOCATION_LOGS"


@click.command("provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed for answer lengths, latencies and fault draws.")
@click.option("--time-scale", type=click.FloatRange(min=0), default=None,
              help=f"Multiply simulated model latencies (0 = answer at once; injected latency is never "
                   f"scaled). Default: ${TIME_SCALE_ENV} or 1.")
@click.option("--invocation-logs", "invocation_logs", envvar=INVOCATION_LOGS_ENV, default=None,
              metavar="URL",
              help=f"Write Bedrock model-invocation logs of every Bedrock call served to this folder or "
                   f"s3://bucket/prefix, as AWS delivers them. Default: ${INVOCATION_LOGS_ENV}, or none.")
@click.option("--account-id", default=DEFAULT_ACCOUNT_ID, show_default=True,
              help="The AWS account the invocation logs are of.")
@click.option("--log-flush-s", default=5.0, show_default=True, type=click.FloatRange(min=0.05, max=3600),
              help="Seconds between invocation-log writes (and on stop).")
def provider(host: str, port: int, seed: int, time_scale: float | None, invocation_logs: str | None,
             account_id: str, log_flush_s: float) -> None:
    """Run the simulated provider until interrupted."""
    try:
        scale = time_scale if time_scale is not None else time_scale_from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    location = _log_location(invocation_logs, account_id)
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # bind before announcing: a busy port is one line, not uvicorn's error after our banner
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror} "
                                   "(another provider running? choose another --port)") from None
    click.echo(f"aigw provider: http://{host}:{port} (seed {seed}, time scale {scale:g}); "
               f"faults: POST/GET/DELETE /_control/faults", err=True)
    if location is None:
        app = ProviderApp(SimulatedModel(seed=seed), time_scale=scale)
        uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[listener])
        return
    logs = InvocationLogSink(location, account_id=account_id, flush_interval_s=log_flush_s)
    app = ProviderApp(SimulatedModel(seed=seed), time_scale=scale, invocation_logs=logs)
    click.echo(f"aigw provider: invocation logs of account {account_id} -> {location.url}", err=True)
    # uvicorn stops gracefully on SIGTERM, then raises it again under the handler it found at start:
    # make that an exit, so the last records are written before the process ends.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[listener])
    finally:
        logs.close()
        click.echo(f"aigw provider: {logs.records:,} invocation-log records in {logs.objects:,} objects "
                   f"-> {location.url}", err=True)


def _log_location(url: str | None, account_id: str) -> LakeLocation | None:
    if not re.fullmatch(r"\d{12}", account_id):
        raise click.BadParameter(f"{account_id!r} is not 12 digits", param_hint="--account-id")
    if not url:
        return None
    try:
        return LakeLocation.parse(url)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--invocation-logs") from None


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
