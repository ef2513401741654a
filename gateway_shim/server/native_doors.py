"""Which native front door a request is for: ``/v1/embeddings``, ``/v1/messages``, or a Bedrock
Runtime operation other than Converse (``docs/gateway.md``, "Embeddings, InvokeModel, Messages and
other Bedrock operations")."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from gateway_shim.server.bedrock_api import BedrockDoor, is_bedrock_path, match_operation, parse_bedrock
from gateway_shim.server.dispatch import Dispatcher
from gateway_shim.server.doors import OPENAI_DOOR
from gateway_shim.server.embeddings_api import parse_embeddings
from gateway_shim.server.errors import ApiError
from gateway_shim.server.http import Connection, Request
from gateway_shim.server.messages_api import MessagesDoor, parse_messages
from gateway_shim.server.native_calls import NativeCall, NativeDispatcher
from gateway_shim.server.off_loop import parsed
from gateway_shim.types import RequestContext
from gateway_shim.upstream.native import NativeClient

Parser = Callable[[Request], NativeCall]


class NativeDoors:
    def __init__(self, dispatcher: Dispatcher, clients: Mapping[str, NativeClient],
                 header_context: Callable[[Request], RequestContext],
                 ready: Callable[[RequestContext], Awaitable[None]] | None = None) -> None:
        self.dispatcher = dispatcher
        self.runner = NativeDispatcher(dispatcher, clients, ready)
        self.clients = clients
        self.header_context = header_context
        routes = dispatcher.gateway.config.routes.values()
        self.bedrock_models = list(dict.fromkeys(
            t.model for route in routes for t in route.targets
            if t.provider in clients and clients[t.provider].speaks_bedrock))
        """Models on bedrock providers, in config order: a model-less operation (``ApplyGuardrail``,
        the async-invoke listings) goes to the provider of the first one the key may use."""

    def handles(self, path: str) -> bool:
        return path in ("/v1/embeddings", "/v1/messages") or is_bedrock_path(path)

    async def __call__(self, request: Request, conn: Connection) -> bool:
        """Serve the request if a native door owns its path; False when none does (a 404)."""
        started = time.monotonic()
        path, method = request.path, request.method
        if path in ("/v1/embeddings", "/v1/messages"):
            if method != "POST":
                conn.respond(405, [("allow", "POST")], b'{"error":{"type":"invalid_request_error",'
                                                       b'"code":"method_not_allowed","message":'
                                                       b'"this endpoint accepts POST only"}}')
                return True
            parse: Parser = parse_embeddings if path == "/v1/embeddings" else parse_messages
            door = OPENAI_DOOR if path == "/v1/embeddings" else MessagesDoor()
            operation = "embeddings" if path == "/v1/embeddings" else "chat"
            try:
                call = await parsed(parse, request)
            except ApiError as error:
                ctx = self.header_context(request)
                ctx.operation = operation
                if path == "/v1/messages" and ctx.api_key is None:
                    ctx.api_key = request.headers.get("x-api-key") or None
                self.dispatcher.refuse_malformed(conn, door, ctx, error, started)
                return True
            await self.runner.run(conn, call, started)
            return True
        found = match_operation(method, path) if is_bedrock_path(path) else None
        if found is None:
            return False
        bedrock_operation, labels = found
        try:
            call = await parsed(lambda r: parse_bedrock(r, bedrock_operation, labels), request)
        except ApiError as error:
            ctx = self.header_context(request)
            ctx.operation = bedrock_operation.snake
            self.dispatcher.refuse_malformed(conn, BedrockDoor(bedrock_operation, labels, path, "", {}), ctx,
                                             error, started)
            return True
        if not call.ctx.model_requested:
            call.ctx.model_requested = self._any_bedrock_model(call.ctx)
        await self.runner.run(conn, call, started)
        return True

    def _any_bedrock_model(self, ctx: RequestContext) -> str:
        allowed = set(self.runner.gateway.available_models(ctx.api_key, ctx.sensitivity) or ())
        return next((model for model in self.bedrock_models if model in allowed), "")

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
            return  # they share one pool

