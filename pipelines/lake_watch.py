"""What the sensor has not seen yet: lake objects newer than its cursor, and the days they touch."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from gateway_shim.telemetry.layout import EVENTS_PREFIX, LOADTESTS_PREFIX, POLICIES_PREFIX, event_day

WATCHED_PREFIXES = (EVENTS_PREFIX, POLICIES_PREFIX, LOADTESTS_PREFIX)


@dataclass(frozen=True, slots=True)
class Cursor:
    """The newest modification time seen, and the keys seen at exactly that time (ties are not lost)."""

    mtime_ns: int = 0
    keys_at_mtime: frozenset[str] = frozenset()

    def dumps(self) -> str:
        return json.dumps({"mtime_ns": self.mtime_ns, "keys": sorted(self.keys_at_mtime)})

    @classmethod
    def loads(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(int(data.get("mtime_ns", 0)), frozenset(data.get("keys", [])))


@dataclass(frozen=True, slots=True)
class Changes:
    days: frozenset[dt.date]  # event days with new or rewritten objects
    other_keys: tuple[str, ...]  # new policies/ or loadtests/ objects (marts need a refresh)
    cursor: Cursor


def changes_since(objects: Iterable[tuple[str, int]], cursor: Cursor) -> Changes:
    """``objects`` are (relative path, mtime_ns) pairs under WATCHED_PREFIXES."""
    new = [
        (path, mtime)
        for path, mtime in objects
        if mtime > cursor.mtime_ns or (mtime == cursor.mtime_ns and path not in cursor.keys_at_mtime)
    ]
    if not new:
        return Changes(frozenset(), (), cursor)
    newest = max(mtime for _, mtime in new)
    at_newest = {path for path, mtime in new if mtime == newest}
    if newest == cursor.mtime_ns:
        at_newest |= cursor.keys_at_mtime
    days = frozenset(day for path, _ in new if (day := event_day(path)) is not None)
    others = tuple(sorted(path for path, _ in new if not path.startswith(f"{EVENTS_PREFIX}/")))
    return Changes(days, others, Cursor(newest, frozenset(at_newest)))
