"""The one interface between the gateway and any upstream model provider.

The gateway builds an `UpstreamRequest` from a (possibly redacted) OpenAI-style request, calls a
`ProviderClient`, and gets an `UpstreamResult`, a stream of `StreamChunk`, or an `UpstreamError`
whose `reason` tells the breaker and the fallback chain what went wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Reason = Literal["error", "throttle", "timeout", "outage", "connect"]
REASONS: tuple[Reason, ...] = ("error", "throttle", "timeout", "outage", "connect")


@dataclass(slots=True, frozen=True)
class UpstreamRequest:
    """One call to one model. `timeout_s` bounds the whole call (for streams: until the first byte and
    then between bytes). `extra` holds further OpenAI body fields to forward (temperature, top_p, stop)."""

    model: str
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None
    timeout_s: float
    stream: bool = False
    extra: Mapping[str, Any] | None = None
    trace_id: str | None = None
    tenant_id: str | None = None
    workflow: str | None = None


@dataclass(slots=True, frozen=True)
class UpstreamResult:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length" | whatever the provider said, in OpenAI words


@dataclass(slots=True, frozen=True)
class StreamChunk:
    """A piece of a streamed answer. The last chunk of a stream carries `finish_reason` and, when the
    provider reports it, the usage (`input_tokens`/`output_tokens`), possibly with empty `text`."""

    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class UpstreamError(Exception):
    """A failed upstream call. `reason`: "throttle" (429), "outage" (503 or the connection dropped before
    a response), "error" (other statuses, malformed answers), "timeout", "connect" (refused/unreachable).
    `status` is the upstream HTTP status, 0 when there was none."""

    def __init__(self, reason: Reason, status: int, message: str, *,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{reason} ({status}): {message}" if status else f"{reason}: {message}")
        self.reason: Reason = reason
        self.status = status
        self.message = message
        self.retry_after = retry_after


def reason_for_status(status: int) -> Reason:
    """How an upstream HTTP status counts for fallback and the circuit breaker."""
    if status == 429:
        return "throttle"
    if status == 503:
        return "outage"
    return "error"


class ProviderClient(Protocol):
    """What every provider adapter offers.

    `stream` is a coroutine: awaiting it makes the call and raises `UpstreamError` if the call fails
    before the first chunk (so the gateway can still fall back); it then returns an async iterator of
    chunks, which may itself raise `UpstreamError` if the stream breaks midway.
    """

    name: str

    async def complete(self, request: UpstreamRequest) -> UpstreamResult: ...

    async def stream(self, request: UpstreamRequest) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


async def started(chunks: AsyncIterator[StreamChunk], name: str,
                  on_failure: Callable[[], object]) -> AsyncIterator[StreamChunk]:
    """``chunks`` once its first chunk has arrived, so a call that fails before any output raises here
    (and may fall back) instead of inside a stream the client already gets; ``on_failure`` releases the
    call's resources when it does."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        raise UpstreamError("error", 200, f"{name}: the stream ended before any chunk") from None
    except BaseException:
        on_failure()
        raise
    return _prepend(first, chunks)


async def _prepend(first: StreamChunk, rest: AsyncIterator[StreamChunk]) -> AsyncIterator[StreamChunk]:
    yield first
    async for chunk in rest:
        yield chunk
