"""When requests arrive: a Poisson process per stream whose rate follows the scenario's shapes.

Rate of a stream at time t = requests_per_day x scale x its share x diurnal(hour) x weekly(weekday)
x growth(t), each shape normalised to mean 1, so ``requests_per_day`` is the average day at the start.
Traffic surges and rate-limit storms add sources at an absolute rate (not scaled). Arrivals are drawn
one hour at a time with numpy (vectorised) from one seeded generator: same seed, same arrivals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from gateway_shim.simulate.scenario import RateLimitStorm, Scenario, TrafficSurge

HOUR_S = 3600.0
DAY_S = 86_400.0


@dataclass(slots=True, frozen=True)
class Source:
    """One arrival process: a stream's normal traffic, or an incident's extra traffic on a stream."""

    stream: int
    """Index into ``scenario.streams``."""
    per_hour: float
    """Base rate per hour (before shapes for normal traffic; absolute for incidents)."""
    shaped: bool
    """Normal traffic follows shapes and growth; incident traffic is flat within its window."""
    begin: float = 0.0
    end: float = float("inf")
    """Active window in seconds after the start."""
    user: str | None = None
    """Every request from this user (a storm), else drawn from the stream's users."""


Arrival = tuple[float, int, str, bool, int, float, float, int]
"""(offset seconds, source index, user, streamed, input tokens, retrieval ms, probe draw, digest)."""


class TrafficModel:
    """Hour-by-hour arrivals for one simulation window."""

    def __init__(self, scenario: Scenario, start: dt.date, *, scale: float, seed: int) -> None:
        self.scenario = scenario
        self.start_weekday = start.weekday()
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.sources = build_sources(scenario, scale)
        total = sum(s.share for s in scenario.streams)
        self._share = [s.share / total for s in scenario.streams]
        self._diurnal = {k: _normalised(v) for k, v in scenario.diurnal.items()}
        self._weekly = {k: _normalised(v) for k, v in scenario.weekly.items()}
        self._users = [[f"{s.app}-user-{i:04d}" for i in range(s.users)] for s in scenario.streams]

    def rate_per_hour(self, source: Source, hour_index: int) -> float:
        """Expected arrivals of ``source`` per hour during hour ``hour_index`` of the window."""
        if not source.shaped:
            return source.per_hour
        stream = self.scenario.streams[source.stream]
        hour = hour_index % 24
        weekday = (self.start_weekday + hour_index // 24) % 7
        growth = 1.0 + self.scenario.growth_per_30_days * (hour_index + 0.5) * HOUR_S / (30 * DAY_S)
        return (source.per_hour * self._share[source.stream] * self._diurnal[stream.diurnal][hour]
                * self._weekly[stream.weekly][weekday] * max(growth, 0.0))

    def hour(self, hour_index: int) -> list[Arrival]:
        """All arrivals in [hour_index h, hour_index h + 1 h), sorted by time."""
        lo_hour, hi_hour = hour_index * HOUR_S, (hour_index + 1) * HOUR_S
        rng = self.rng
        columns: list[tuple[np.ndarray, ...]] = []
        for index, source in enumerate(self.sources):
            lo, hi = max(lo_hour, source.begin), min(hi_hour, source.end)
            if hi <= lo:
                continue
            expected = self.rate_per_hour(source, hour_index) * (hi - lo) / HOUR_S
            n = int(rng.poisson(expected)) if expected > 0 else 0
            if n == 0:
                continue
            stream = self.scenario.streams[source.stream]
            times = rng.uniform(lo, hi, n)
            tokens = _lognormal(rng, stream.input_tokens.median, stream.input_tokens.sigma, n)
            tokens = np.clip(tokens, max(1.0, stream.input_tokens.min), stream.input_tokens.max)
            if stream.retrieval_ms is not None:
                r = stream.retrieval_ms
                retrieval = np.clip(_lognormal(rng, r.median, r.sigma, n), r.min, r.max)
            else:
                retrieval = np.full(n, -1.0)
            streamed = rng.random(n) < stream.streaming_share
            users = np.floor(len(self._users[source.stream]) * rng.random(n) ** 2).astype(np.int64)
            probes = rng.random(n)
            digests = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
            columns.append((times, np.full(n, index), users, streamed, np.rint(tokens), retrieval, probes,
                            digests))
        if not columns:
            return []
        times, idx, users, streamed, tokens, retrieval, probes, digests = (
            np.concatenate(parts) for parts in zip(*columns, strict=True))
        order = np.argsort(times, kind="stable")
        out: list[Arrival] = []
        append = out.append
        user_lists = self._users
        fixed_user = [s.user for s in self.sources]
        src_stream = [s.stream for s in self.sources]
        for t, i, u, st, tok, ret, pr, dg in zip(
            times[order].tolist(), idx[order].tolist(), users[order].tolist(), streamed[order].tolist(),
            tokens[order].tolist(), retrieval[order].tolist(), probes[order].tolist(),
            digests[order].tolist(), strict=True,
        ):
            user = fixed_user[i] or user_lists[src_stream[i]][u]
            append((t, i, user, st, int(tok), ret, pr, dg))
        return out


def build_sources(scenario: Scenario, scale: float) -> list[Source]:
    """Normal traffic for every stream, then one source per surge or storm."""
    names = {s.name: i for i, s in enumerate(scenario.streams)}
    per_hour = scenario.requests_per_day * scale / 24.0
    sources = [Source(i, per_hour, True) for i in range(len(scenario.streams))]
    for incident in scenario.incidents:
        if isinstance(incident, TrafficSurge):
            end = float("inf") if incident.duration is None else incident.at + incident.duration
            sources.append(Source(names[incident.stream], incident.requests_per_hour, False,
                                  incident.at, end))
        elif isinstance(incident, RateLimitStorm):
            sources.append(Source(names[incident.stream], incident.requests_per_min * 60.0, False,
                                  incident.at, incident.at + incident.duration, incident.user))
    return sources


def expected_requests(model: TrafficModel, hours: int) -> float:
    """Expected arrivals over the first ``hours`` hours (for the progress bar's total)."""
    total = 0.0
    for h in range(hours):
        for source in model.sources:
            lo, hi = max(h * HOUR_S, source.begin), min((h + 1) * HOUR_S, source.end)
            if hi > lo:
                total += model.rate_per_hour(source, h) * (hi - lo) / HOUR_S
    return total


def _normalised(weights: list[float]) -> list[float]:
    mean = sum(weights) / len(weights)
    return [w / mean for w in weights]


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))
