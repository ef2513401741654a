"""Gap records: the lake's own account of events the writer had to drop.

When the spool is full (or the disk fails) events are dropped rather than blocking or killing the
gateway. Each run of drops becomes one ``gaps/<gateway_id>-<start>-<id>.json`` object with the
count, the first/last event time and the events' summed estimated cost, so the loss is visible
to the pipelines and to people.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway_shim.telemetry.layout import gap_path, iso


@dataclass
class Gap:
    """One uninterrupted run of dropped events."""

    gateway_id: str
    reason: str
    started_us: int = field(default_factory=lambda: time.time_ns() // 1000)
    gap_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    dropped: int = 0
    estimated_cost_usd: float = 0.0
    first_ts_us: int | None = None
    last_ts_us: int | None = None
    ended_us: int | None = None

    def add(self, count: int, first_ts_us: int | None, last_ts_us: int | None, reason: str,
            cost_usd: float = 0.0) -> None:
        self.dropped += count
        self.estimated_cost_usd += cost_usd
        if reason not in self.reason.split(","):
            self.reason = f"{self.reason},{reason}"
        if first_ts_us is not None:
            self.first_ts_us = first_ts_us if self.first_ts_us is None else min(self.first_ts_us, first_ts_us)
        if last_ts_us is not None:
            self.last_ts_us = last_ts_us if self.last_ts_us is None else max(self.last_ts_us, last_ts_us)

    @property
    def lake_path(self) -> str:
        return gap_path(self.gateway_id, self.started_us, self.gap_id)

    def to_json(self) -> bytes:
        record: dict[str, Any] = {
            "kind": "gap",
            "gateway_id": self.gateway_id,
            "reason": self.reason,
            "dropped_events": self.dropped,
            "estimated_cost_usd": round(self.estimated_cost_usd, 8),
            "first_ts": iso(self.first_ts_us) if self.first_ts_us is not None else None,
            "last_ts": iso(self.last_ts_us) if self.last_ts_us is not None else None,
            "detected_at": iso(self.started_us),
            "ended_at": iso(self.ended_us) if self.ended_us is not None else None,
            "open": self.ended_us is None,
        }
        return orjson.dumps(record, option=orjson.OPT_INDENT_2)
