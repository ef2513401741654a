"""A large request's CPU work (decoding its JSON, screening its prompt) on one worker thread.

A 1 MB prompt takes about 10 ms to decode and screen, and far more when it is made of digit groups or
non-ASCII letters; on the event loop, 20 of them in flight hold every other client for hundreds of
milliseconds. A body of at least ``OFF_LOOP_BYTES`` is therefore decoded here, and a prompt with at
least ``OFF_LOOP_CHARS`` characters to screen is screened here, while the loop keeps serving. What is
smaller stays on the loop: a thread hop costs more than its work, and a large body is often large for
what is never screened (a 100 KB request with a base64 image has 1 KB of text: decoded on the loop in
~0.1 ms, screened in microseconds).

The loop thread still needs the GIL, so the work gives it back often: RE2 releases it while matching,
Python code hands it over after the serve command's 0.5 ms switch interval, and the long C calls on
non-ASCII text (NFKC, translations, casefolding) run in slices of 64 K characters
(``gateway_shim.policy.normalize``). One thread, so large requests queue behind each other instead of
several competing with the loop thread for the GIL; the queue is bounded by the HTTP server's limit on
request bodies held (``Limits.max_buffered_bytes``), and each request's screen by the body limit and
``guardrails.max_input_tokens`` (a prompt over it is refused before any scan).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gateway_shim.server.http import Request

OFF_LOOP_BYTES = 512 * 1024
"""Bodies from this size on are decoded on the worker thread (~0.5 ms of decoding on the loop below it)."""
OFF_LOOP_CHARS = 64 * 1024
"""Prompts with this many characters to screen (``core.screened_chars``) are screened on the worker
thread (up to a few milliseconds of adversarial text on the loop below it)."""

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aigw-large-requests")
        return _pool


async def off_loop(work: Callable[..., T], *args: object) -> T:
    """``work(*args)`` on the worker thread (it must not touch state the loop changes)."""
    return await asyncio.get_running_loop().run_in_executor(_worker(), work, *args)


async def parsed(parse: Callable[[Request], T], request: Request) -> T:
    """``parse(request)``: on the loop for a small body, on the worker thread for a large one."""
    if len(request.body) < OFF_LOOP_BYTES:
        return parse(request)
    return await off_loop(parse, request)
