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
    body: Mapping[str, Any] | None = None
    """The client's parsed body: sent unchanged (but for the policy edits) to a target of its own
    ``wire``, translated for the other. ``None``: build the body from the fields above."""
    wire: str = "openai"
    """The body's format: ``openai`` (Chat Completions) or ``converse`` (policy-view messages, see
    ``gateway_shim/wire/translate_request.py``)."""


@dataclass(slots=True, frozen=True)
class UpstreamResult:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length" | whatever the provider said, in OpenAI words
    raw: dict[str, Any] | None = None
    """The provider's whole answer in its ``wire`` format: what the door sends back (translated when
    the door speaks the other format)."""
    wire: str = "openai"
    scan: str | None = None
    """Text plus tool-call arguments, for the output guardrails (``None``: ``text``)."""
    tool_calls: int = 0
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True, frozen=True)
class StreamChunk:
    """A piece of a streamed answer: one provider event (``raw``) and what the gateway reads of it.
    A chunk carries `finish_reason` and, when the provider reports it, the usage
    (`input_tokens`/`output_tokens`, cache and reasoning tokens), possibly with empty `text`."""

    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    raw: Any = None
    """The provider's event (an OpenAI chunk document or a Converse ``{type: payload}`` event)."""
    wire: str | None = None
    arguments: str = ""
    """Tool-call argument text in this chunk (the output guardrails scan it with ``text``)."""
    tool_calls: int = 0
    """Tool calls this chunk starts."""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class UsageDetails:
    """The usage details of a streamed answer, gathered chunk by chunk for its event."""

    tool_calls: int = 0
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def add(self, chunk: StreamChunk) -> None:
        self.tool_calls += chunk.tool_calls
        if chunk.cache_read_tokens is not None:
            self.cache_read_tokens = chunk.cache_read_tokens
        if chunk.cache_write_tokens is not None:
            self.cache_write_tokens = chunk.cache_write_tokens
        if chunk.reasoning_tokens is not None:
            self.reasoning_tokens = chunk.reasoning_tokens


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
