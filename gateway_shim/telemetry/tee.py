"""One event sink feeding several (the lake writer and the OpenTelemetry exporter): the core emits once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Sink = Callable[[dict[str, Any]], None]


def tee(first: Sink, *others: Sink) -> Sink:
    """A sink calling each given sink in order; just ``first`` when there are no others."""
    if not others:
        return first
    sinks = (first, *others)

    def emit(event: dict[str, Any]) -> None:
        for sink in sinks:
            sink(event)

    return emit
