"""Assemble and run one gateway replica: config → core + provider clients + lake writer → HTTP listeners.

Shutdown (SIGTERM or SIGINT): stop accepting, let in-flight requests finish (bounded by
``drain_timeout_s``), close upstream clients, flush telemetry to the lake, exit 0. SIGHUP (and the
policy file changing) reloads the policy (``policy_reload.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import secrets
import signal
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.server.app import GatewayApp
from gateway_shim.server.budget_seed import (
    SEED_CLAIM_MARGIN_S,
    Gauges,
    lake_month_reader,
    read_seed,
    seed_ledger,
    seed_shared,
)
from gateway_shim.server.durable_acks import DurableAcks
from gateway_shim.server.http import HttpServer, Limits
from gateway_shim.server.policy_reload import PolicyReloader, ReloadRefused
from gateway_shim.state import StateBackend, open_state
from gateway_shim.telemetry.lake_writer import LakeWriter, default_spool_dir
from gateway_shim.telemetry.otel_settings import export_settings
from gateway_shim.telemetry.spend import month_start_of
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.telemetry.tee import tee
from gateway_shim.upstream.base import ProviderClient
from gateway_shim.upstream.http_client import HttpClient
from gateway_shim.upstream.registry import build_client, build_clients

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
    config_path: Path | None = None
    """The policy file to reload on SIGHUP and when it changes (``None``: no reload)."""
    policy_poll_s: float = 1.0
    """How often the policy file's mtime is checked; 0 = on SIGHUP only."""


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
    state, seed_gauges, seed_ledger_of = await _open_state(config, options, lake, spool_dir)
    exporter = start_otel_exporter(config, options.gateway_id)
    writer = LakeWriter(lake, options.gateway_id, spool_dir=spool_dir).start()
    acks = DurableAcks(writer, config.gateway.on_spool_full)
    emit = tee(acks.emit, exporter.emit) if exporter is not None else acks.emit
    gateway = Gateway(config, gateway_id=options.gateway_id, emit=emit, state=state)
    seed_ledger_of(gateway)
    http = HttpClient()
    clients = build_clients(config, http)
    retired: list[ProviderClient] = []
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
    oidc = config.identity.oidc
    if oidc is not None:
        from gateway_shim.server.jwks_fetcher import JwksFetcher

        app.signing_keys = JwksFetcher(oidc, lambda: app.gateway.identity.jwt)  # the current core's
        if not await app.signing_keys.start():
            print(f"aigw serve: identity keys not loaded from {oidc.jwks_url} yet; tokens get 401 "
                  "until a retry succeeds", file=sys.stderr, flush=True)
    reloader: PolicyReloader | None = None
    if options.config_path is not None:
        def apply(new: Config) -> None:
            retired.extend(_adopt(app, new, options.gateway_id, http))

        reloader = PolicyReloader(options.config_path, config, apply, poll_s=options.policy_poll_s,
                                  snapshot=lambda new: _snapshot_policy(lake, new))
        app.extra_health = reloader.health

    def gauges() -> dict[str, list[tuple[dict[str, str], float]]]:
        found = dict(seed_gauges())
        if exporter is not None:
            found.update(exporter.gauges())
        if state is not None:
            found.update(state.gauges())
        if reloader is not None:
            found.update(reloader.gauges())
        return found

    app.extra_gauges = gauges
    gc.collect()
    gc.freeze()  # startup's ~80k objects (config, pyarrow, clients) leave the collector's scans for good
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watch: asyncio.Task[None] | None = None
    if reloader is not None:
        loop.add_signal_handler(signal.SIGHUP, reloader.trigger)
        if options.policy_poll_s > 0:
            watch = loop.create_task(reloader.run())
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
        if watch is not None:
            watch.cancel()
        app.draining = True
        drained = await server.drain(options.drain_timeout_s)
        if not drained:
            log.warning("drain timeout: %d requests still in flight were cut off", server.in_flight)
    finally:
        await admin.drain(1.0)
        if app.signing_keys is not None:
            await app.signing_keys.aclose()
        await app.native.aclose()
        if state is not None:
            try:
                await state.close()  # the settlements still queued are sent before it disconnects
            except Exception:
                log.warning("closing the shared state failed", exc_info=True)
        for client in [*app.dispatcher.clients.values(), *retired]:
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




def _adopt(app: GatewayApp, config: Config, gateway_id: str, http: HttpClient) -> list[ProviderClient]:
    """Swap ``config`` in (a reload): a core that takes over the running one's budgets, limits, shared
    state, lanes, breakers and signing keys, and emits where it did (durable acks, the exporter);
    clients rebuilt only for the providers whose settings changed. Returns the clients replaced
    (closed at shutdown: requests in flight may still use them)."""
    running = app.config
    if config.state != running.state:
        raise ReloadRefused("the state section changed: connection settings need a restart (rolling)")
    if (config.identity.oidc is None) != (running.identity.oidc is None):
        raise ReloadRefused("identity.oidc was added or removed: the signing-key fetcher starts and "
                            "stops with the process (rolling restart)")
    if config.telemetry != running.telemetry:
        raise ReloadRefused("the telemetry section changed: the OpenTelemetry exporter's settings need "
                            "a restart (rolling)")
    gateway = Gateway(config, gateway_id=gateway_id, emit=app.gateway.emit)
    gateway.take_over(app.gateway)
    previous = app.dispatcher.clients
    clients = {name: previous[name] if name in previous and running.providers.get(name) == provider
               else build_client(name, provider, http) for name, provider in config.providers.items()}
    app.adopt(config, gateway, clients)
    return [client for name, client in previous.items() if clients.get(name) is not client]


async def _open_state(config: Config, options: ServeOptions, lake: LakeLocation, spool_dir: Path,
                      ) -> tuple[StateBackend | None, Gauges, Callable[[Gateway], None]]:
    """The shared store (``state.backend: redis``) seeded once for the fleet, or ``None`` and the
    month-to-date read to seed this process's own ledger with (before the lake writer replays the spool)."""
    now = dt.datetime.now(dt.UTC)
    if config.state.backend == "memory":
        seed = await read_seed(lake, spool_dir, now, options.budget_seed_timeout_s)
        print(seed.describe(), file=sys.stderr, flush=True)
        return None, seed.gauges, lambda gateway: seed_ledger(gateway.budget, config.tenants, seed)
    state = open_state(config.state, {t: c.monthly_budget_usd for t, c in config.tenants.items()},
                       {t: c.limits for t, c in config.tenants.items()},
                       replica_id=f"{options.gateway_id}.{secrets.token_hex(3)}")
    shared = await seed_shared(state, lake, spool_dir, now, options.budget_seed_timeout_s)
    print(shared.describe(month_start_of(now)), file=sys.stderr, flush=True)
    state.reseed_from(lake_month_reader(lake, options.budget_seed_timeout_s),
                      options.budget_seed_timeout_s + SEED_CLAIM_MARGIN_S)
    return state, shared.gauges, lambda gateway: None


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
