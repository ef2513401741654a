"""How a relayed stream ends, for chat and native streams alike: its last frames held back until the
request's event is durable (``HeldEnding``); and when it does not end cleanly (the client hung up, the
upstream broke, the drain cut it), its error and what it is charged without the provider's usage.
One place, so that every door acknowledges, answers, records and charges a stream the same way."""

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


class HeldEnding:
    """A stream's last frames, kept back until the request's event is durable in the spool.

    The frame that completes a stream (Anthropic's ``message_delta`` and ``message_stop``, Converse's
    ``messageStop`` and ``metadata``, Bedrock's last ``chunk``) is the client's acknowledgement, as a
    2xx is for a whole answer: it is sent only after ``Dispatcher.durable()`` said yes. From the first
    final frame on every frame is held, so the order the provider sent stays. When the event cannot be
    made durable, or the stream ends in an error, the held frames are dropped: the client gets the error
    frame instead of a completed stream.
    """

    __slots__ = ("_frames",)

    def __init__(self) -> None:
        self._frames: list[bytes] | None = None

    def pass_or_hold(self, frame: bytes, final: bool) -> bytes:
        """``frame`` to send now, or ``b""`` when it is held (it is final, or a final frame came before)."""
        if final and self._frames is None:
            self._frames = []
        if self._frames is None:
            return frame
        self._frames.append(frame)
        return b""

    def release(self) -> bytes:
        """The held frames, in order, to send once the event is durable (the ending is empty after)."""
        frames, self._frames = self._frames or [], None
        return b"".join(frames)
