"""Provider kind `bedrock`: boto3 `bedrock-runtime` Converse/ConverseStream, run in a thread pool.

Credentials come from the standard chain (env, profile, role; `AWS_BEARER_TOKEN_BEDROCK` for Bedrock
API keys), the region from the provider's `region` or the environment, and `endpoint` (if set)
overrides the service URL, e.g. to point at the simulated provider. botocore's own retries are off:
the gateway's fallback chain decides what happens after a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from gateway_shim.upstream.base import (
    Reason,
    StreamChunk,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    reason_for_status,
    started,
)
from gateway_shim.wire.translate_request import edited_converse, openai_to_converse
from gateway_shim.wire.translate_response import summarize_converse
from gateway_shim.wire.translate_stream import converse_chunk

ERROR_REASONS: dict[str, Reason] = {"ThrottlingException": "throttle",
                                    "ServiceUnavailableException": "outage",
                                    "ModelTimeoutException": "timeout",
                                    "ModelNotReadyException": "outage"}
_END = object()
_METADATA_UNSAFE = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,.-]")


def to_converse(messages: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """OpenAI chat messages → (Converse messages, Converse system blocks). System and developer
    messages become system blocks; tool results become user text; consecutive turns of one role merge
    (Converse wants user/assistant alternating)."""
    conversation: list[dict[str, Any]] = []
    system: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role in ("system", "developer"):
            if text:
                system.append({"text": text})
            continue
        role = "assistant" if role == "assistant" else "user"
        if conversation and conversation[-1]["role"] == role:
            conversation[-1]["content"].append({"text": text})
        else:
            conversation.append({"role": role, "content": [{"text": text}]})
    return conversation, system


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type", "text") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    return ""


def inference_config(request: UpstreamRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    extra = request.extra or {}
    if isinstance(extra.get("temperature"), int | float):
        config["temperature"] = float(extra["temperature"])
    if isinstance(extra.get("top_p"), int | float):
        config["topP"] = float(extra["top_p"])
    stop = extra.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list):
        config["stopSequences"] = [s for s in stop if isinstance(s, str)]
    return config


def request_metadata(request: UpstreamRequest) -> dict[str, str]:
    """Converse ``requestMetadata``: the gateway's trace id, tenant and workflow, which Bedrock writes
    into its model-invocation log records so each joins its gateway event exactly (docs/reconciliation.md).
    Values are fitted to what Bedrock accepts (256 characters of ``[a-zA-Z0-9 :_@$#=/+,.-]``)."""
    pairs = {"aigw_trace_id": request.trace_id, "aigw_tenant": request.tenant_id,
             "aigw_workflow": request.workflow}
    return {key: _METADATA_UNSAFE.sub("_", value)[:256] for key, value in pairs.items() if value}


def translate_error(exc: Exception, name: str) -> UpstreamError:
    """A boto3/botocore failure as an UpstreamError with the right reason."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(exc.response.get("Error", {}).get("Code") or "")
        message = str(exc.response.get("Error", {}).get("Message") or exc)
        reason = ERROR_REASONS.get(code) or (reason_for_status(status) if status else "error")
        return UpstreamError(reason, status, f"{name}: {code}: {message}")
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        return UpstreamError("connect", 0, f"{name}: {exc}")
    if isinstance(exc, ReadTimeoutError):
        return UpstreamError("timeout", 0, f"{name}: {exc}")
    if isinstance(exc, ConnectionClosedError):
        return UpstreamError("outage", 0, f"{name}: {exc}")
    if isinstance(exc, NoCredentialsError):
        return UpstreamError("error", 0, f"{name}: no AWS credentials found (env, profile, role or "
                                         f"AWS_BEARER_TOKEN_BEDROCK)")
    return UpstreamError("error", 0, f"{name}: {exc}")


class BedrockClient:
    """ProviderClient over boto3 `bedrock-runtime`; the blocking calls run on a private thread pool."""

    def __init__(self, name: str, *, region: str | None = None, endpoint_url: str | None = None,
                 connect_timeout_s: float = 2.0, timeout_s: float = 60.0, max_workers: int = 32) -> None:
        self.name = name
        self.timeout_s = timeout_s
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        config = BotoConfig(connect_timeout=connect_timeout_s, read_timeout=timeout_s,
                            max_pool_connections=max_workers,
                            retries={"total_max_attempts": 1, "mode": "standard"})
        self._client = boto3.session.Session().client("bedrock-runtime", region_name=region,
                                                      endpoint_url=endpoint_url, config=config)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"bedrock-{name}")

    async def complete(self, request: UpstreamRequest) -> UpstreamResult:
        response = await self._call(request, self._converse, request)
        response.pop("ResponseMetadata", None)
        summary = summarize_converse(response)
        return UpstreamResult(summary.text, summary.input_tokens, summary.output_tokens,
                              summary.finish_reason,
                              response, "converse", summary.scan, summary.tool_calls,
                              summary.cache_read_tokens, summary.cache_write_tokens, summary.reasoning_tokens)

    async def stream(self, request: UpstreamRequest) -> AsyncIterator[StreamChunk]:
        events = await self._call(request, self._open_stream, request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        self._pool.submit(_pump, events, queue, loop, stop)
        return await started(self._chunks(queue, stop, request), self.name, stop.set)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    async def _call(self, request: UpstreamRequest, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool, fn, *args),
                                          min(request.timeout_s, self.timeout_s))
        except TimeoutError:
            raise UpstreamError("timeout", 0, f"{self.name}: no answer within "
                                              f"{min(request.timeout_s, self.timeout_s):g} s") from None
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, self.name) from None

    def _arguments(self, request: UpstreamRequest) -> dict[str, Any]:
        """The Converse arguments, with the gateway's join keys added to the client's own
        ``requestMetadata`` (whichever door the request came in by)."""
        arguments = self._body(request)
        metadata = request_metadata(request)
        if metadata:
            arguments["requestMetadata"] = {**(arguments.get("requestMetadata") or {}), **metadata}
        return arguments

    def _body(self, request: UpstreamRequest) -> dict[str, Any]:
        if request.body is not None:
            if request.wire == "converse":
                return edited_converse(request.body, request.messages, request.model, request.max_tokens)
            return openai_to_converse(request.body, request.messages, request.model, request.max_tokens)
        messages, system = to_converse(request.messages)
        arguments: dict[str, Any] = {"modelId": request.model, "messages": messages}
        if system:
            arguments["system"] = system
        config = inference_config(request)
        if config:
            arguments["inferenceConfig"] = config
        return arguments

    def _converse(self, request: UpstreamRequest) -> dict[str, Any]:
        response: dict[str, Any] = self._client.converse(**self._arguments(request))
        return response

    def _open_stream(self, request: UpstreamRequest) -> Iterator[dict[str, Any]]:
        stream: Iterator[dict[str, Any]] = self._client.converse_stream(**self._arguments(request))["stream"]
        return stream

    async def _chunks(self, queue: asyncio.Queue[Any], stop: threading.Event,
                      request: UpstreamRequest) -> AsyncIterator[StreamChunk]:
        """Every ConverseStream event as a chunk (the event kept whole as ``raw``)."""
        timeout = min(request.timeout_s, self.timeout_s)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    raise UpstreamError("timeout", 0, f"{self.name}: stream idle for {timeout:g} s") from None
                if event is _END:
                    break
                if isinstance(event, Exception):
                    raise translate_error(event, self.name)
                if isinstance(event, dict) and event:
                    yield converse_chunk(event)
        finally:
            stop.set()


def _pump(events: Any, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop,
          stop: threading.Event) -> None:
    """Thread side of a stream: hand each event to the loop; stop early when the reader is gone."""
    try:
        for event in events:
            if stop.is_set():
                break
            loop.call_soon_threadsafe(queue.put_nowait, event)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, _END)
    except Exception as exc:  # handed to the reader, which turns it into an UpstreamError
        loop.call_soon_threadsafe(queue.put_nowait, exc)
    finally:
        close = getattr(events, "close", None)
        if stop.is_set() and close is not None:
            close()
