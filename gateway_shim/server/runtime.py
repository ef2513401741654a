"""Assemble and run one gateway replica: config → core + provider clients + lake writer → HTTP listeners.

Shutdown (SIGTERM or SIGINT): stop accepting, let in-flight requests finish (bounded by
``drain_timeout_s``), close upstream clients, flush telemetry to the lake, exit 0. SIGHUP is logged
and ignored (a config reload is not implemented yet; it must not kill the process undrained).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.budget_seed import read_seed, seed_ledger
from gateway_shim.server.durable_acks import DurableAcks
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.telemetry.lake_writer import LakeWriter, default_spool_dir
from gateway_shim.telemetry.otel_settings import export_settings
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.tee import tee
from gateway_shim.upstream.registry import build_clients

if TYPE_CHECKING:
    from gateway_shim.telemetry.otel_export import OtelExporter

log = logging.getLogger("aigw.server")


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    lake_url: str
    gateway_id: str
    admin_host: str = "127.0.0.1"
    admin_port: int = 9464
    tls_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    drain_timeout_s: float = 30.0
    flush_timeout_s: float = 30.0
    spool_dir: Path | None = None
    budget_seed_timeout_s: float = 60.0


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


GIL_SWITCH_INTERVAL_S = 0.0005
"""The lake writer's threads convert events to Arrow every 50 ms, holding the GIL; with Python's default
5 ms switch interval the event loop can wait up to 5 ms for it when a response arrives meanwhile.
0.5 ms bounds that wait (docs/performance.md, "Gateway overhead")."""


async def serve_until_signalled(config: Config, options: ServeOptions) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    lake = LakeLocation.parse(options.lake_url)
    _snapshot_policy(lake, config)
    spool_dir = options.spool_dir or default_spool_dir(options.gateway_id)
    seed = await read_seed(lake, spool_dir, dt.datetime.now(dt.UTC), options.budget_seed_timeout_s)
    print(seed.describe(), file=sys.stderr, flush=True)
    exporter = start_otel_exporter(config, options.gateway_id)
    writer = LakeWriter(lake, options.gateway_id, spool_dir=spool_dir).start()
    acks = DurableAcks(writer, config.gateway.on_spool_full)
    emit = tee(acks.emit, exporter.emit) if exporter is not None else acks.emit
    gateway = Gateway(config, gateway_id=options.gateway_id, emit=emit)
    seed_ledger(gateway.budget, config.tenants, seed)
    clients = build_clients(config)
    app = GatewayApp(config, gateway, clients, gateway_id=options.gateway_id,
                     telemetry_stats=lambda: {**writer.stats(), "unconfirmed": acks.unconfirmed}, acks=acks)
    limits = Limits(max_body_bytes=config.gateway.max_body_bytes)
    server = HttpServer(app, limits, on_wire_error=app.wire_error, on_handler_error=app.handler_error)
    admin = HttpServer(app.admin, Limits(max_body_bytes=1024, max_connections=64),
                       on_wire_error=lambda status, code, message, request: None,
                       on_handler_error=app.handler_error)

    def loop_lag() -> tuple[float, int]:
        lag, server.loop_lag_max_s = server.loop_lag_max_s, 0.0
        return lag, server.loop_lag_over_10ms

    app.loop_lag = loop_lag
    app.extra_gauges = seed.gauges if exporter is None else (lambda: {**seed.gauges(), **exporter.gauges()})
    oidc = config.identity.oidc
    if oidc is not None:
        from gateway_shim.server.jwks_fetcher import JwksFetcher

        app.signing_keys = JwksFetcher(oidc, lambda: app.gateway.identity.jwt)
        if not await app.signing_keys.start():
            print(f"aigw serve: identity keys not loaded from {oidc.jwks_url} yet; tokens get 401 "
                  "until a retry succeeds", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # startup's ~80k objects (config, pyarrow, clients) leave the collector's scans for good
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _ignore_sighup)
    try:
        port = await server.listen(options.host, options.port)
        try:
            admin_port = await admin.listen(options.admin_host, options.admin_port)
        except OSError as exc:
            raise OSError(exc.errno, f"admin listener {options.admin_host}:{options.admin_port}: "
                                     f"{exc.strerror or exc} (choose another with --admin-port)") from None
        where = [f"http://{options.host}:{port}"]
        if options.tls_port is not None and options.tls_cert and options.tls_key:
            tls_port = await server.listen(options.host, options.tls_port,
                                           tls=tls_context(options.tls_cert, options.tls_key))
            where.append(f"https://{options.host}:{tls_port}")
        print(f"aigw serve: listening on {' and '.join(where)} (gateway {options.gateway_id}, "
              f"policy {config.policy_version}, lake {lake.url}); admin (/healthz, /metrics) on "
              f"http://{options.admin_host}:{admin_port}", file=sys.stderr, flush=True)
        await stop.wait()
        print("aigw serve: draining", file=sys.stderr, flush=True)
        app.draining = True
        drained = await server.drain(options.drain_timeout_s)
        if not drained:
            log.warning("drain timeout: %d requests still in flight were cut off", server.in_flight)
    finally:
        await admin.drain(1.0)
        if app.signing_keys is not None:
            await app.signing_keys.aclose()
        await app.native.aclose()
        for client in clients.values():
            try:
                await client.aclose()
            except Exception:
                log.debug("closing a provider client failed", exc_info=True)
        writer_closed = asyncio.to_thread(writer.close, options.flush_timeout_s)
        if exporter is not None:  # flushed side by side with the lake: one flush timeout in all
            flushed, _ = await asyncio.gather(writer_closed,
                                              asyncio.to_thread(exporter.close, options.flush_timeout_s))
        else:
            flushed = await writer_closed
        stats = writer.stats()
        print(f"aigw serve: stopped; telemetry written {stats['written']}, backlog {stats['backlog']}, "
              f"dropped {stats['dropped']}{'' if flushed else ' (rest kept in the spool)'}",
              file=sys.stderr, flush=True)
    return 0


def start_otel_exporter(config: Config, gateway_id: str) -> OtelExporter | None:
    """The OpenTelemetry exporter when configured (``telemetry.otlp`` or ``$OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    settings = export_settings(config)
    if settings is None:
        return None
    try:
        from gateway_shim.telemetry.otel_export import OtelExporter, provider_kinds
    except ImportError as exc:
        raise ValueError(f"OpenTelemetry export is on ({settings.source}) but the SDK is missing "
                         f"({exc.name}): install aigw with the 'otel' extra") from None
    exporter = OtelExporter(settings, gateway_id, provider_kinds(config)).start()
    print(f"aigw serve: exporting OpenTelemetry spans and metrics ({settings.source})",
          file=sys.stderr, flush=True)
    return exporter


def _ignore_sighup() -> None:
    print("aigw serve: SIGHUP ignored (config reload is not implemented; restart to change the "
          "config)", file=sys.stderr, flush=True)


def _snapshot_policy(lake: LakeLocation, config: Config) -> None:
    """Write ``policies/<version>.json`` once, if the lake engineer's helper is there."""
    try:
        from gateway_shim.telemetry.policies import write_policy_snapshot
    except ImportError:
        log.warning("policy snapshots are not available (gateway_shim.telemetry.policies missing)")
        return
    try:
        write_policy_snapshot(lake, config)
    except Exception as exc:  # the lake may be down at start; serving must not depend on it
        log.warning("could not write the policy snapshot to %s: %s", lake.url, exc)
