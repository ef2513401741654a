"""Long-running commands stop cleanly on SIGTERM and SIGINT, however they were started.

A shell script that starts a command in the background hands it SIGINT already ignored, and Python's
default SIGTERM ends the process at once, leaving its children (a dashboard, a Locust run) behind.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interrupt_on_stop_signals() -> Iterator[None]:
    """Within: SIGTERM and SIGINT both raise ``KeyboardInterrupt``, so ``finally`` blocks stop what was
    started. The previous handlers come back afterwards (a command run in-process by a test)."""
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    for number in previous:
        signal.signal(number, _interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def default_stop_signals() -> None:
    """Before ``exec``: SIGINT and SIGTERM back to their defaults, so the new program handles them itself
    (an ignored SIGINT would be inherited through exec)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
