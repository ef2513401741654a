"""Native-body calls: forward a request body as the provider's own API wants it, and hand back the
provider's answer unchanged (embeddings, Bedrock InvokeModel and any other ``bedrock-runtime``
operation).

Chat goes through the `ProviderClient` adapters (one message model, translated per provider); the
doors in ``gateway_shim/server/native_doors.py`` carry bodies the gateway must not rebuild, so their
clients only know how to reach and authenticate to a provider: a bearer key for OpenAI-compatible
endpoints, SigV4 (botocore's ``SigV4Auth``, service ``bedrock``) or a Bedrock API key
(``AWS_BEARER_TOKEN_BEDROCK``) for ``bedrock`` providers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from gateway_shim.config.models import Config, Provider
from gateway_shim.upstream.base import UpstreamError, reason_for_status
from gateway_shim.upstream.http_client import HttpClient, Origin, StreamingResponse, format_headers
from gateway_shim.upstream.openai_compat import api_key_from_env
from gateway_shim.upstream.registry import DEFAULT_ENDPOINTS, ProviderConfigError
from gateway_shim.wire.trace_context import traceparent

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Upstream answers that count as a failed attempt (fallback, circuit breaker); any other status is
the provider's verdict on the request itself and goes back to the client unchanged."""


@dataclass(slots=True, frozen=True)
class NativeRequest:
    """One call: ``path`` (with any query string) is relative to the provider's API root."""

    method: str
    path: str
    body: bytes
    timeout_s: float
    headers: Mapping[str, str]
    trace_id: str | None = None


@dataclass(slots=True)
class NativeResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(slots=True)
class NativeStream:
    """A streamed answer with status 200: ``chunks`` yields the body's bytes as they arrive."""

    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]
    response: StreamingResponse

    def header(self, name: str) -> str | None:
        return self.response.header(name)

    def close(self) -> None:
        self.response.close()


class NativeClient:
    """Reaches one provider's API root; ``kind`` says which native APIs it speaks (``openai``:
    ``/v1/embeddings``; ``bedrock``: every ``bedrock-runtime`` operation, SigV4-signed;
    ``simulated``: both, unsigned, as ``aigw provider`` serves them)."""

    def __init__(self, name: str, kind: str, endpoint: str, http: HttpClient, *,
                 connect_timeout_s: float, timeout_s: float, api_key: str | None = None,
                 region: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.http = http
        self.origin: Origin = http.origin(endpoint, connect_timeout_s=connect_timeout_s)
        self.timeout_s = timeout_s
        self.api_key = api_key
        self.region = region or "us-east-1"
        self._session: Any = None

    @property
    def speaks_bedrock(self) -> bool:
        return self.kind in ("bedrock", "simulated")

    @property
    def speaks_openai(self) -> bool:
        return self.kind in ("openai", "simulated")

    def path_for(self, path: str) -> str:
        """An OpenAI path (``/v1/embeddings``) under an endpoint that may already end in ``/v1``."""
        if self.speaks_openai and self.origin.prefix.endswith("/v1") and path.startswith("/v1/"):
            return path[3:]
        return path

    async def send(self, request: NativeRequest) -> NativeResponse:
        """The whole answer; ``UpstreamError`` for a retryable status or a transport failure."""
        response = await self.http.request(self.origin, request.method, self.path_for(request.path),
                                           self._headers(request), request.body, self._timeout(request))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
        if response.status in RETRYABLE_STATUSES:
            raise _error(response.status, response.body, response.header("retry-after"), self.name)
        return NativeResponse(response.status, headers, response.body)

    async def open(self, request: NativeRequest) -> NativeStream | NativeResponse:
        """A stream once the provider answered 200; any other non-retryable answer whole."""
        response = await self.http.stream(self.origin, request.method, self.path_for(request.path),
                                          self._headers(request), request.body, self._timeout(request))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
        if response.status != 200:
            body = await response.read()
            if response.status in RETRYABLE_STATUSES:
                raise _error(response.status, body, response.header("retry-after"), self.name)
            return NativeResponse(response.status, headers, body)
        return NativeStream(headers, response.iter_bytes(), response)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _timeout(self, request: NativeRequest) -> float:
        return min(request.timeout_s, self.timeout_s)

    def _headers(self, request: NativeRequest) -> bytes:
        headers = {"User-Agent": "aigw", **request.headers}
        parent = traceparent(request.trace_id)
        if parent is not None:
            headers["traceparent"] = parent
        if self.kind == "bedrock":
            headers.update(self._aws_auth(request, headers))
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return format_headers(headers)

    def _aws_auth(self, request: NativeRequest, headers: Mapping[str, str]) -> dict[str, str]:
        """A Bedrock API key when one is set, else a SigV4 signature over this exact request."""
        token = os.environ.get("AWS_BEARER_TOKEN_BEDROCK")
        if token:
            return {"Authorization": f"Bearer {token}"}
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if self._session is None:
            import boto3  # slow to import: only for bedrock providers

            self._session = boto3.session.Session()
        credentials = self._session.get_credentials()
        if credentials is None:
            raise UpstreamError("error", 0, f"{self.name}: no AWS credentials found (env, profile, role "
                                            f"or AWS_BEARER_TOKEN_BEDROCK)")
        url = f"{self.origin.url.rstrip('/')}{request.path}"
        signed = AWSRequest(method=request.method, url=url, data=request.body,
                            headers={k: v for k, v in headers.items() if k.lower() != "traceparent"})
        SigV4Auth(credentials.get_frozen_credentials(), "bedrock", self.region).add_auth(signed)
        return {k: v for k, v in signed.headers.items()
                if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token",
                                 "x-amz-content-sha256")}


def _error(status: int, body: bytes, retry_after: str | None, name: str) -> UpstreamError:
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:
        wait = None
    detail = body[:200].decode("utf-8", "replace") or "no body"
    return UpstreamError(reason_for_status(status), status, f"{name}: {detail}", retry_after=wait)


def bedrock_endpoint(provider: Provider) -> str:
    region = provider.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
        or "us-east-1"
    return provider.endpoint or f"https://bedrock-runtime.{region}.amazonaws.com"


def build_native_client(name: str, provider: Provider, http: HttpClient) -> NativeClient:
    try:
        if provider.kind == "bedrock":
            region = provider.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            return NativeClient(name, "bedrock", bedrock_endpoint(provider), http,
                                connect_timeout_s=provider.connect_timeout_s, timeout_s=provider.timeout_s,
                                region=region)
        endpoint = provider.endpoint or DEFAULT_ENDPOINTS[provider.kind]
        return NativeClient(name, provider.kind, endpoint, http, connect_timeout_s=provider.connect_timeout_s,
                            timeout_s=provider.timeout_s, api_key=api_key_from_env(provider.api_key_env))
    except ValueError as exc:
        raise ProviderConfigError(f"providers.{name}: {exc}") from None


def build_native_clients(config: Config, http: HttpClient | None = None) -> dict[str, NativeClient]:
    """One native client per provider, sharing one pool; ``aclose()`` any one of them closes it."""
    shared = http or HttpClient()
    return {name: build_native_client(name, provider, shared) for name, provider in config.providers.items()}
