"""The gateway's request routers: the API port's front doors, and the admin port's health and metrics.

The API port (``__call__``) answers the LLM endpoints, ``/v1/models`` and a bare liveness
``/healthz`` (``{"status"}`` only, for load balancers). Everything about operations — per-tenant
metrics, gateway id, policy version, telemetry — is on the admin port (``admin``), which
``aigw serve`` binds to loopback by default (docs/security.md). Every answer is JSON (or SSE, or
Prometheus text); every refusal is the OpenAI-style error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.server.converse_api import model_id, parse_converse
from gateway_shim.server.dispatch import Dispatcher
from gateway_shim.server.doors import CONVERSE_DOOR, OPENAI_DOOR, Door
from gateway_shim.server.durable_acks import DurableAcks
from gateway_shim.server.errors import ApiError, error_json
from gateway_shim.server.http import Connection, Request
from gateway_shim.server.lanes import AsyncLanes
from gateway_shim.server.metrics import Metrics
from gateway_shim.server.native_doors import NativeDoors
from gateway_shim.server.off_loop import parsed
from gateway_shim.server.openai_api import parse_chat
from gateway_shim.server.request_contract import bearer_key, contract, trace_id
from gateway_shim.types import RequestContext
from gateway_shim.upstream.base import ProviderClient
from gateway_shim.upstream.native import NativeClient, build_native_clients

if TYPE_CHECKING:
    from gateway_shim.server.jwks_fetcher import JwksFetcher

log = logging.getLogger("aigw.server")

Gauges = Callable[[], Mapping[str, list[tuple[dict[str, str], float]]]]


class GatewayApp:
    """Routes requests; owns nothing but references (the core, clients, metrics)."""

    def __init__(self, config: Config, gateway: Gateway, clients: Mapping[str, ProviderClient],
                 *, gateway_id: str, telemetry_stats: Callable[[], Mapping[str, Any]] | None = None,
                 acks: DurableAcks | None = None,
                 native_clients: Mapping[str, NativeClient] | None = None) -> None:
        self.config = config
        self.gateway = gateway
        self.gateway_id = gateway_id
        self.metrics = Metrics()
        self._acks = acks
        self.dispatcher = self._dispatcher(gateway, clients)
        self.native = NativeDoors(self.dispatcher, build_native_clients(config) if native_clients is None
                                  else native_clients, header_context, self._signing_key_ready)
        self.telemetry_stats = telemetry_stats or (lambda: {})
        self.draining = False
        self.loop_lag: Callable[[], tuple[float, int]] = lambda: (0.0, 0)
        """(longest event-loop lag in seconds since the last scrape, lags over 10 ms so far)."""
        self.extra_gauges: Gauges = lambda: {}
        """More point-in-time values for ``/metrics`` (the start-up budget seed)."""
        self.signing_keys: JwksFetcher | None = None
        """Set when ``identity.oidc`` is configured: a token naming an unknown key waits for its fetch."""
        self.extra_health: Callable[[], Mapping[str, Any]] = lambda: {}
        """More fields for the admin ``/healthz`` (the policy file and its reload error)."""

    def adopt(self, config: Config, gateway: Gateway, clients: Mapping[str, ProviderClient]) -> None:
        """Serve new requests under ``config`` (a reload); each request in flight finishes on the
        dispatcher, core and policy version that admitted it."""
        self.config = config
        self.gateway = gateway
        self.dispatcher = self._dispatcher(gateway, clients, self.dispatcher.lanes)
        self.native = NativeDoors(self.dispatcher, self.native.clients, header_context,
                                  self._signing_key_ready)

    def _dispatcher(self, gateway: Gateway, clients: Mapping[str, ProviderClient],
                    lanes: AsyncLanes | None = None) -> Dispatcher:
        acks = self._acks
        if acks is None:
            return Dispatcher(gateway, clients, self.metrics, lanes)
        return Dispatcher(gateway, clients, self.metrics, lanes, durable=acks.confirm,
                          spool_failing=lambda: acks.spool_failing)

    async def __call__(self, request: Request, conn: Connection) -> None:
        path, method = request.path, request.method
        if path == "/v1/chat/completions":
            if method != "POST":
                return self._not_allowed(conn, "POST")
            return await self._chat(request, conn)
        if path.startswith("/model/") and (operation := model_id(path)) is not None:
            if method != "POST":
                return self._not_allowed(conn, "POST")
            return await self._converse(request, conn, *operation)
        if self.native.handles(path):
            if await self.native(request, conn):
                return None
            return self._not_found(conn, path)
        if path == "/v1/models":
            if method != "GET":
                return self._not_allowed(conn, "GET")
            return self._models(request, conn)
        if path == "/healthz":
            return self._liveness(conn)
        return self._not_found(conn, path)

    async def admin(self, request: Request, conn: Connection) -> None:
        """The admin listener: ``/healthz`` with the gateway's identity, ``/metrics``."""
        path = request.path
        if request.method != "GET":
            return self._not_allowed(conn, "GET")
        if path == "/healthz":
            return self._health(conn)
        if path == "/metrics":
            return conn.respond(200, [], self.metrics.render(self._gauges),
                                content_type="text/plain; version=0.0.4; charset=utf-8")
        return self._not_found(conn, path)

    # ---- front doors ----------------------------------------------------------------------------------
    async def _chat(self, request: Request, conn: Connection) -> None:
        started = time.monotonic()
        try:
            call = await parsed(parse_chat, request)
        except ApiError as error:
            return self._malformed(request, conn, OPENAI_DOOR, error, started)
        await self._signing_key_ready(call.ctx)
        await self.dispatcher.run(conn, OPENAI_DOOR, call.ctx, started, call.extra, call.include_usage)

    async def _converse(self, request: Request, conn: Connection, model: str, stream: bool) -> None:
        started = time.monotonic()
        try:
            call = await parsed(lambda r: parse_converse(r, model, stream), request)
        except ApiError as error:
            return self._malformed(request, conn, CONVERSE_DOOR, error, started)
        await self._signing_key_ready(call.ctx)
        await self.dispatcher.run(conn, CONVERSE_DOOR, call.ctx, started, call.extra)

    async def _signing_key_ready(self, ctx: RequestContext) -> None:
        """A token naming a signing key not loaded yet waits for its fetch before admission."""
        if self.signing_keys is not None and (wait := self.signing_keys.waiter_for(ctx.api_key)):
            await wait

    def _malformed(self, request: Request, conn: Connection, door: Door, error: ApiError,
                   started: float) -> None:
        """A body we could not use still gets its event, attributed from the headers alone."""
        self.dispatcher.refuse_malformed(conn, door, header_context(request), error, started)

    def wire_error(self, status: int, code: str, message: str, request: Request | None) -> None:
        """A request refused at the wire (too large, too slow): counted, and if it was an LLM call
        with headers, given its one event like any other refusal."""
        self.metrics.wire_error(status, code)
        if request is None or not request.headers or not _is_llm_path(request.path):
            return
        try:
            ctx = header_context(request)
            rejection = self.dispatcher.malformed(ctx, status, code, message)
            event = self.gateway.reject(ctx, rejection, time.monotonic())
            self.metrics.observe(event)
        except Exception:
            log.exception("recording a wire-level refusal failed")
            self.metrics.handler_errors += 1

    def handler_error(self, exc: BaseException) -> None:
        log.error("request handler failed", exc_info=exc)
        self.metrics.handler_errors += 1

    # ---- the rest -------------------------------------------------------------------------------------
    def _models(self, request: Request, conn: Connection) -> None:
        """The models this key may ask for, at the sensitivity of ``x-aigw-sensitivity`` (or the default)."""
        models = self.gateway.available_models(bearer_key(request.headers),
                                               request.headers.get("x-aigw-sensitivity"), request.received_us)
        if models is None:
            conn.respond(401, [], error_json("authentication_error", "invalid_api_key",
                                             "missing or unknown API key (Authorization: Bearer <key>)"))
            return
        data = [{"id": model, "object": "model", "created": 0, "owned_by": "aigw"} for model in models]
        conn.respond(200, [], orjson.dumps({"object": "list", "data": data}))

    def _liveness(self, conn: Connection) -> None:
        """The API port's health: up or draining, nothing else."""
        if self.draining:
            conn.respond(503, [], b'{"status":"draining"}')
        else:
            conn.respond(200, [], b'{"status":"ok"}')

    def _health(self, conn: Connection) -> None:
        status = 503 if self.draining else 200
        conn.respond(status, [], orjson.dumps({
            "status": "draining" if self.draining else "ok",
            "gateway_id": self.gateway_id,
            "policy_version": self.config.policy_version,
            **self.extra_health(),
        }))

    def _gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        lanes = self.gateway.lanes.snapshot()
        gauges: dict[str, list[tuple[dict[str, str], float]]] = {
            "aigw_lane_running": [({"lane": lane}, running) for lane, (running, _) in sorted(lanes.items())],
            "aigw_lane_queued": [({"lane": lane}, queued) for lane, (_, queued) in sorted(lanes.items())],
        }
        gauges["aigw_circuit_open"] = [
            ({"target": key}, 0.0 if breaker.state == "closed" else 1.0 if breaker.state == "open" else 0.5)
            for key, breaker in sorted(self.gateway.breakers.items())]
        lag_s, over_10ms = self.loop_lag()
        gauges["aigw_event_loop_lag_max_ms"] = [({}, round(lag_s * 1000, 3))]
        gauges["aigw_event_loop_lags_over_10ms"] = [({}, float(over_10ms))]
        stats = self.telemetry_stats()
        for key in ("backlog", "dropped", "accepted", "written", "files_written", "unconfirmed"):
            value = stats.get(key)
            if isinstance(value, int | float):
                gauges[f"aigw_telemetry_{key}"] = [({}, float(value))]
        gauges.update(self.extra_gauges())
        return gauges

    @staticmethod
    def _not_found(conn: Connection, path: str) -> None:
        conn.respond(404, [], error_json("not_found_error", "unknown_path",
                                         f"no endpoint at {path[:200]!r}; see docs/gateway.md"))

    @staticmethod
    def _not_allowed(conn: Connection, allowed: str) -> None:
        conn.respond(405, [("allow", allowed)], error_json("invalid_request_error", "method_not_allowed",
                                                           f"this endpoint accepts {allowed} only"))


def _is_llm_path(path: str) -> bool:
    return path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages") or path.startswith("/model/")


def header_context(request: Request) -> RequestContext:
    """The context of a request whose body was unusable: auth, trace and contract from headers."""
    try:
        fields = contract(request.headers, None)
    except ApiError:
        fields = {}
    return RequestContext(api_key=bearer_key(request.headers), messages=[], received_at=request.received_us,
                          trace_id=trace_id(request.headers), body_bytes=len(request.body), **fields)
