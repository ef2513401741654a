"""``started``: a stream is handed on only once its first chunk has arrived; a failure before that
raises at the call (where the gateway can still fall back) and releases the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway_shim.upstream.base import StreamChunk, UpstreamError, started


async def _chunks(texts: list[str], fail_after: int | None = None) -> AsyncIterator[StreamChunk]:
    for i, text in enumerate(texts):
        if i == fail_after:
            raise ConnectionResetError("dropped")
        yield StreamChunk(text)
    if fail_after == len(texts):
        raise ConnectionResetError("dropped")


def _read(chunks: AsyncIterator[StreamChunk], released: list[str]) -> list[str]:
    async def main() -> list[str]:
        stream = await started(chunks, "selfhosted", lambda: released.append("released"))
        return [chunk.text async for chunk in stream]
    return asyncio.run(main())


def test_every_chunk_arrives_in_order_and_nothing_is_released() -> None:
    released: list[str] = []
    assert _read(_chunks(["a", "b", "c"]), released) == ["a", "b", "c"]
    assert released == []


def test_a_stream_without_any_chunk_is_an_error_naming_the_provider() -> None:
    with pytest.raises(UpstreamError, match="selfhosted: the stream ended before any chunk") as raised:
        _read(_chunks([]), [])
    assert (raised.value.reason, raised.value.status) == ("error", 200)


def test_a_failure_before_the_first_chunk_releases_the_call_and_raises_at_the_call() -> None:
    released: list[str] = []
    with pytest.raises(ConnectionResetError):
        _read(_chunks(["a"], fail_after=0), released)
    assert released == ["released"]


def test_a_failure_after_the_first_chunk_surfaces_inside_the_stream() -> None:
    async def main() -> tuple[str, type[BaseException] | None]:
        stream = await started(_chunks(["a", "b"], fail_after=1), "selfhosted", lambda: None)
        first = await anext(stream)
        try:
            await anext(stream)
        except ConnectionResetError as exc:
            return first.text, type(exc)
        return first.text, None

    assert asyncio.run(main()) == ("a", ConnectionResetError)
