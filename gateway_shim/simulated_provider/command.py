"""`aigw provider`: run the simulated model provider (OpenAI and Bedrock Converse wire formats) with its
fault-injection control API. See docs/provider.md."""

from __future__ import annotations

import socket

import click
import uvicorn

from gateway_shim.simulated_provider.server import (
    TIME_SCALE_ENV,
    ProviderApp,
    time_scale_from_env,
    uvicorn_config,
)
from gateway_shim.simulated_provider.simulated_model import SimulatedModel


@click.command("provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed for answer lengths, latencies and fault draws.")
@click.option("--time-scale", type=click.FloatRange(min=0), default=None,
              help=f"Multiply simulated model latencies (0 = answer at once; injected latency is never "
                   f"scaled). Default: ${TIME_SCALE_ENV} or 1.")
def provider(host: str, port: int, seed: int, time_scale: float | None) -> None:
    """Run the simulated provider until interrupted."""
    try:
        scale = time_scale if time_scale is not None else time_scale_from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    app = ProviderApp(SimulatedModel(seed=seed), time_scale=scale)
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
    uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[listener])
