"""The simulated Bedrock's own invocation logs: one ``ModelInvocationLog`` record per call it serves.

The provider logs what it serves, not what the gateway records: every call to a Bedrock provider the
engine completes (``on_served``, including calls the gateway then gave up on), plus the calls teams
make with their own IAM roles (the scenario's ``provider.direct_callers``), which never reach the
gateway. Records are AWS's format (built by ``simulated_provider/invocation_log.py``, shared with
the live ``aigw provider``), delivered per hour under
``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/``. Cached input is counted as
Bedrock counts it: apart from ``inputTokenCount``, in ``cacheReadInputTokenCount`` (the same reads the
engine gives the call's event, where they are part of ``input_tokens``).
Object names derive from the run's identity, so a rerun overwrites its own objects. The per day x
model token totals go to the bill (``focus_bill.py``): the provider's side, never the gateway's events.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import numpy as np

from gateway_shim.simulate.scenario import DirectCaller, Lognormal, Scenario
from gateway_shim.simulated_provider.answers import cached_tokens
from gateway_shim.simulated_provider.invocation_log import (
    RecordFormat,
    cache_counts,
    gzip_lines,
    json_text,
    object_key,
    request_metadata,
)
from gateway_shim.simulated_provider.simulated_model import SimResponse
from gateway_shim.telemetry.storage import LakeLocation
from gateway_shim.types import Plan, Target

HOUR_S = 3600.0
Usage = dict[tuple[dt.date, str], list[int]]
"""(UTC day, model) -> [input tokens not from the cache, output tokens, cache-read tokens] of every
call served, as Bedrock counts and bills them."""


class InvocationLogWriter:
    """Collects served calls by virtual hour and writes each hour's object once the hour is over."""

    def __init__(
        self,
        location: LakeLocation,
        scenario: Scenario,
        *,
        start: dt.date,
        scale: float,
        seed: int,
        run_key: str,
    ) -> None:
        side = scenario.provider
        assert side is not None
        self.location = location
        self.side = side
        self._hourly_usage: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.records = 0
        self.objects = 0
        self._origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        self._origin_s = self._origin.timestamp()
        self._run_key = run_key
        self._providers = frozenset(side.providers)
        self._hours: dict[int, list[tuple[float, str, str, str, int, int, int, str]]] = defaultdict(list)
        self._deliveries: dict[int, int] = defaultdict(int)  # objects written per hour so far
        # Request ids are UUID-shaped: a random prefix per run, then a sequence number (unique, cheap).
        h = f"{random.Random(f'{seed}:{run_key}:request-ids').getrandbits(80):020x}"
        self._id_prefix = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-"
        self._format = RecordFormat(side.account_id, side.region)
        self._sequence = 0
        self._gateway_arn = json_text(side.gateway_role_arn)
        self._callers = [_CallerModel(c, scenario, scale, seed, i) for i, c in enumerate(side.direct_callers)]
        self._text: dict[str, str] = {}

    def served(self, now: float, plan: Plan, target: Target, response: SimResponse) -> None:
        """The engine's ``on_served`` (``now``: when the call reached the provider): log it if a Bedrock
        provider served it."""
        if target.provider not in self._providers:
            return
        metadata = request_metadata(
            {
                "aigw_trace_id": plan.ctx.trace_id,
                "aigw_tenant": plan.tenant_id,
                "aigw_workflow": plan.ctx.workflow or "",
            }
        )
        operation = "ConverseStream" if plan.ctx.stream else "Converse"
        # The engine's rule for the event's cache reads (an embedding reads no prompt cache).
        embedding = plan.ctx.operation == "embeddings"
        read = 0 if embedding else cached_tokens(response.input_tokens, response.digest)
        self._add(
            now,
            self._gateway_arn,
            operation,
            target.model,
            response.input_tokens - read,
            response.output_tokens,
            metadata,
            read,
        )

    def on_hour(self, hours_done: int) -> None:
        """After the engine's hour ``hours_done - 1``: its direct calls, then every finished hour's object."""
        hour = hours_done - 1
        for caller in self._callers:
            for offset, tokens_in, tokens_out in caller.calls(hour, self._origin):
                self._add(
                    self._origin_s + hour * HOUR_S + offset,
                    caller.arn,
                    "Converse",
                    caller.model,
                    tokens_in,
                    tokens_out,
                    "",
                    0,
                )
        for done in sorted(h for h in self._hours if h <= hour - 1):
            self._write(done)

    def close(self) -> None:
        for hour in sorted(self._hours):
            self._write(hour)

    def _json(self, value: str) -> str:
        text = self._text.get(value)
        if text is None:
            text = self._text[value] = json_text(value)
        return text

    def _add(
        self,
        now: float,
        arn: str,
        operation: str,
        model: str,
        tokens_in: int,
        tokens_out: int,
        metadata: str,
        cache_read: int,
    ) -> None:
        """Hold the call in its hour; formatting waits for the hour's write (one pass, no datetimes).
        ``tokens_in`` excludes the ``cache_read`` tokens, as Bedrock's ``inputTokenCount`` does."""
        since = now - self._origin_s
        hour = int(since // HOUR_S)
        self._hours[hour].append(
            (since - hour * HOUR_S, arn, operation, model, tokens_in, tokens_out, cache_read, metadata)
        )
        totals = self._hourly_usage[(hour, model)]
        totals[0] += tokens_in
        totals[1] += tokens_out
        totals[2] += cache_read
        self.records += 1

    @property
    def usage(self) -> Usage:
        """(UTC day, model) -> [uncached input, output, cache-read tokens] of every call logged so far."""
        days: Usage = defaultdict(lambda: [0, 0, 0])
        for (hour, model), counts in self._hourly_usage.items():
            totals = days[((self._origin + dt.timedelta(hours=hour)).date(), model)]
            for i, count in enumerate(counts):
                totals[i] += count
        return dict(days)

    def _write(self, hour: int) -> None:
        calls = self._hours.pop(hour)
        start = self._origin + dt.timedelta(hours=hour)
        prefix = f"{start:%Y-%m-%dT%H}:"
        line, id_prefix, model_json = self._format.line, self._id_prefix, self._json
        sequence = self._sequence
        lines = []
        for offset, arn, operation, model, tokens_in, tokens_out, cache_read, metadata in calls:
            millis = int(offset * 1000)
            seconds, millis = divmod(millis, 1000)
            minutes, seconds = divmod(seconds, 60)
            sequence += 1
            lines.append(
                line(
                    f"{prefix}{minutes:02d}:{seconds:02d}.{millis:03d}Z",
                    arn,
                    f"{id_prefix}{sequence:012x}",
                    operation,
                    model_json(model),
                    tokens_in,
                    tokens_out,
                    cache_counts(cache_read, 0) if cache_read else "",
                    metadata,
                )
            )
        self._sequence = sequence
        self._deliveries[hour] += 1  # a call logged after its hour was written goes in a later object
        side = self.side
        suffix = f"{self._run_key}-{self._deliveries[hour]}"
        path = object_key(side.account_id, side.region, start, start, suffix)
        self.location.write_bytes(path, gzip_lines(lines))
        self.objects += 1


class _CallerModel:
    """One direct caller's calls per hour: Poisson counts along its diurnal and weekly shapes."""

    def __init__(self, caller: DirectCaller, scenario: Scenario, scale: float, seed: int, index: int) -> None:
        diurnal = scenario.diurnal[caller.diurnal]
        weekly = scenario.weekly[caller.weekly]
        self.arn = json_text(caller.identity_arn)
        self.model = caller.model
        self._caller = caller
        self._per_hour = [caller.requests_per_day * scale * w / sum(diurnal) for w in diurnal]
        self._weekly = [w * 7 / sum(weekly) for w in weekly]
        self._rng = np.random.default_rng([seed, index, 15])

    def calls(self, hour: int, origin: dt.datetime) -> list[tuple[float, int, int]]:
        moment = origin + dt.timedelta(hours=hour)
        rate = self._per_hour[moment.hour] * self._weekly[moment.weekday()]
        n = int(self._rng.poisson(rate))
        if n == 0:
            return []
        offsets = np.sort(self._rng.uniform(0, HOUR_S, n))
        tokens_in = _lognormal(self._rng, self._caller.input_tokens, n)
        tokens_out = _lognormal(self._rng, self._caller.output_tokens, n)
        return list(zip(offsets.tolist(), tokens_in, tokens_out, strict=True))


def _lognormal(rng: np.random.Generator, shape: Lognormal, n: int) -> list[int]:
    values = np.clip(np.round(shape.median * np.exp(rng.normal(0.0, shape.sigma, n))), shape.min, shape.max)
    return [int(v) for v in values]
