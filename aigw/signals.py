"""Long-running commands stop cleanly on SIGTERM and SIGINT, however they were started.

A shell script that starts a command in the background hands it SIGINT already ignored, and Python's
default SIGTERM ends the process at once, leaving its children (a dashboard, a Locust run) behind.
"""

from __future__ import annotations

import signal
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_stop_signals() -> None:
    """SIGTERM and SIGINT both raise ``KeyboardInterrupt``, so ``finally`` blocks stop what was started."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


def default_stop_signals() -> None:
    """Before ``exec``: SIGINT and SIGTERM back to their defaults, so the new program handles them itself
    (an ignored SIGINT would be inherited through exec)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
