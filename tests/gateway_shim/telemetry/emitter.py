"""A child process for the crash tests: emits numbered events through a LakeWriter.

``python emitter.py LAKE SPOOL GATEWAY_ID kill`` emits until killed, printing ``durable <n>`` (how
many events the writer has acknowledged) as it goes; ``... sigterm N`` emits N events, prints
``emitted N`` and waits for SIGTERM, which exits through the writer's close-at-exit.
"""

from __future__ import annotations

import signal
import sys
import time

from gateway_shim.telemetry.lake_writer import LakeWriter

MAX_SECONDS = 60.0
BASE_TS = 1_795_000_000_000_000


def exit_on_sigterm() -> None:
    """Turn SIGTERM into a normal interpreter exit, so the writer's close-at-exit flushes the lake."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def event(i: int) -> dict[str, object]:
    return {"event_id": f"e{i:09d}", "ts": BASE_TS + i * 1000, "tenant_id": "acme", "input_tokens": i}


def emit_until_killed(writer: LakeWriter) -> None:
    deadline = time.monotonic() + MAX_SECONDS
    i = 0
    while time.monotonic() < deadline:
        for _ in range(200):
            writer.emit(event(i))
            i += 1
        print(f"durable {writer.stats()['durable']}", flush=True)
        time.sleep(0.002)


def emit_then_wait(writer: LakeWriter, count: int) -> None:
    for i in range(count):
        writer.emit(event(i))
    print(f"emitted {count}", flush=True)
    deadline = time.monotonic() + MAX_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.01)


def main(lake: str, spool: str, gateway_id: str, mode: str, count: str = "0") -> None:
    exit_on_sigterm()
    writer = LakeWriter(lake, gateway_id, spool_dir=spool, max_rows=3000).start()
    if mode == "kill":
        emit_until_killed(writer)
    else:
        emit_then_wait(writer, int(count))
    signal.raise_signal(signal.SIGTERM)


if __name__ == "__main__":
    main(*sys.argv[1:])
