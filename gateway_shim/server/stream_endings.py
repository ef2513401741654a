"""How a relayed stream ends when it does not end cleanly, for chat and native streams alike: the
client hung up, the upstream broke, the drain cut it; and what it is charged without the provider's
usage. One place, so that every door answers, records and charges a broken stream the same way."""

from __future__ import annotations

from gateway_shim.server.attempts import note_adapter_bug
from gateway_shim.server.metrics import Metrics
from gateway_shim.types import AttemptResult, Plan, Rejection, Target
from gateway_shim.upstream.base import UpstreamError

OUTPUT_SCAN_TAIL = 256
"""Streamed output is validated chunk by chunk together with this many previous characters."""
SHUTDOWN_CUT = Rejection(503, "gateway_shutdown", "the gateway shut down mid-stream; retry",
                         "upstream_error", "server_error", retry_after=1.0)


def client_closed() -> Rejection:
    """The client hung up mid-stream (status 499, as the event records it)."""
    return Rejection(status=499, code="client_closed", outcome="client_error",
                     message="the client closed the connection mid-stream")


def broken_stream(exc: Exception, target: Target, metrics: Metrics,
                  unexpected: str) -> tuple[AttemptResult, Rejection]:
    """The attempt's outcome and the client's error when the upstream stream raised mid-way; anything
    but an `UpstreamError` is an adapter bug (`note_adapter_bug`)."""
    if isinstance(exc, UpstreamError):
        attempt = AttemptResult.failure(exc.reason, exc.status or None)
        message = f"the upstream stream broke: {exc.message}"
    else:
        note_adapter_bug(exc, target, metrics, unexpected)
        attempt = AttemptResult.failure("error", None)
        message = "the upstream stream broke"
    return attempt, Rejection(status=502, code="stream_interrupted", outcome="upstream_error",
                              error_type="upstream_error", message=message)


def unreported_output_tokens(plan: Plan, text_chars: int) -> int:
    """Output tokens charged when the stream ended before the provider's usage (the client hung up,
    the drain cut it, the upstream broke): the output produced so far, within the reservation."""
    return min(plan.max_tokens, max(1, text_chars // 4)) if text_chars else 0
