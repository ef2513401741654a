"""The two kinds of evidence a verdict weighs, as plain rows, and how the client side is stored.

``ClientRecord``: one request as Locust saw it (written by the scenario's user class into
``requests.csv`` beside Locust's own CSV stats). ``TelemetryRow``: the gateway's own event for a
request of the same run, read back from the lake. Both are pure data so verdicts are testable with
fabricated rows.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, TextIO

REQUEST_LOG = "requests.csv"
PHASES_FILE = "phases.json"
PROVIDER_STATS_FILE = "provider_stats.json"


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """One request from the client's side. ``t`` is its start (epoch seconds); ``code`` the error code."""

    t: float
    lane: str
    tenant: str
    status: int
    ms: float
    fallback: bool = False
    retry_after: str = ""
    model: str = ""
    code: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def done(self) -> float:
        """When the answer had arrived (epoch seconds)."""
        return self.t + self.ms / 1000.0


@dataclass(frozen=True, slots=True)
class TelemetryRow:
    """The gateway's event for one request of the run (a subset of the event schema's columns)."""

    t: float
    lane: str
    tenant: str
    status: int
    outcome: str
    model: str = ""
    provider: str = ""
    fallback_used: bool = False
    fallback_reason: str = ""
    attempts: int = 0
    total_ms: float = 0.0
    cost_usd: float = 0.0
    input_tokens: int = 0
    error_type: str = ""
    degraded: bool = False
    gateway: str = ""
    """The replica that logged it (``gateway_id``)."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def done(self) -> float:
        """When the gateway had finished the request (epoch seconds)."""
        return self.t + self.total_ms / 1000.0


@dataclass(frozen=True, slots=True)
class Phase:
    """A moment the scenario marked: a fault injected or cleared, a load stage starting."""

    name: str
    t: float
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderSample:
    """The simulated provider's own counters (``/_control/stats``) at ``t``: per model, the requests
    it received and the faults it served so far. Evidence that does not come from the gateway."""

    t: float
    requests: dict[str, int]
    faults: dict[str, int]


_COLUMNS = [f.name for f in fields(ClientRecord)]


class RequestLogWriter:
    """Appends ``ClientRecord`` rows to a CSV file (the scenario process owns one)."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self._csv = csv.writer(handle)
        self._csv.writerow(_COLUMNS)

    def write(self, record: ClientRecord) -> None:
        self._csv.writerow(astuple(record))

    def flush(self) -> None:
        self._handle.flush()


def read_request_log(path: Path) -> list[ClientRecord]:
    """The client records of a run; a missing file means Locust sent nothing (an empty run)."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(_parse_rows(csv.DictReader(handle)))


def _parse_rows(rows: Iterable[dict[str, str]]) -> Iterator[ClientRecord]:
    for row in rows:
        yield ClientRecord(
            t=float(row["t"]), lane=row["lane"], tenant=row["tenant"], status=int(row["status"]),
            ms=float(row["ms"]), fallback=row["fallback"] == "True", retry_after=row["retry_after"],
            model=row["model"], code=row["code"],
        )


def read_locust_totals(path: Path) -> tuple[int, int]:
    """(requests, failures) from the "Aggregated" row of Locust's ``*_stats.csv``; (0, 0) if absent."""
    if not path.exists():
        return 0, 0
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"])
    return 0, 0


def write_phases(path: Path, phases: list[Phase]) -> None:
    payload = [{"name": p.name, "t": p.t, **p.detail} for p in phases]
    path.write_text(json.dumps(payload, indent=1))


def read_phases(path: Path) -> list[Phase]:
    if not path.exists():
        return []
    phases = []
    for item in json.loads(path.read_text()):
        detail = {k: v for k, v in item.items() if k not in ("name", "t")}
        phases.append(Phase(name=str(item["name"]), t=float(item["t"]), detail=detail))
    return phases


def write_provider_samples(path: Path, samples: list[ProviderSample]) -> None:
    payload = [{"t": s.t, "requests": s.requests, "faults": s.faults} for s in samples]
    path.write_text(json.dumps(payload))


def read_provider_samples(path: Path) -> list[ProviderSample]:
    """The run's provider counter samples, oldest first; none when the playbook took none."""
    if not path.exists():
        return []
    return [ProviderSample(t=float(item["t"]), requests={k: int(v) for k, v in item["requests"].items()},
                           faults={k: int(v) for k, v in item["faults"].items()})
            for item in json.loads(path.read_text())]
