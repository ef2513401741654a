"""Threads that work beside the event loop without taking the CPU from it when they wake.

An ordinary thread woken on the loop's core (a commit was asked for; its fsync returned) preempts the
loop's thread at once, only to find the GIL taken and go back to sleep: two context switches and a
GIL hand-over for nothing, on every commit. Under Linux's ``SCHED_BATCH`` policy a woken thread waits
until the loop's thread blocks or uses up its time slice instead; it keeps its fair share of the CPU,
only not the right to preempt. With the one-syscall commit (``spool.py``) that took the gateway's
CPU per small request down by 10–34 % (docs/performance.md, "Background threads that do not preempt
the loop").
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable


def background_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread running ``target`` as batch work (elsewhere than Linux: an ordinary thread)."""

    def run() -> None:
        _as_batch_work()
        target()

    return threading.Thread(target=run, name=name, daemon=True)


def _as_batch_work() -> None:
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    with contextlib.suppress(OSError):  # a sandbox may forbid it: the thread only runs as usual then
        os.sched_setscheduler(0, policy, os.sched_param(0))
