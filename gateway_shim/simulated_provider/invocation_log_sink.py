"""The live provider's model-invocation logs (``aigw provider --invocation-logs``): one AWS
``ModelInvocationLog`` record per Bedrock call it serves, delivered as Bedrock delivers them.

The event loop only appends a served call to a list; a thread formats, gzips and writes the calls
every few seconds (or sooner once many are waiting), one object per account, region and hour
folder, and once more on ``close`` so a clean stop loses nothing. A failed write keeps its calls
for the next try. Who called comes from the request's SigV4 credential: the access key id names an
assumed role of the account, the credential scope the region.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from gateway_shim.simulated_provider.invocation_log import (
    RecordFormat,
    cache_counts,
    gzip_lines,
    json_text,
    object_key,
    request_metadata,
    timestamp,
)
from gateway_shim.telemetry.storage import LakeLocation

DEFAULT_ACCOUNT_ID = "111122223333"
DEFAULT_REGION = "us-east-1"
_SIGV4 = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a call, as Bedrock's log names them."""

    arn: str
    region: str


def caller(authorization: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Caller:
    """The identity ARN and region of a request's ``Authorization``. SigV4: the access key id is the
    role (``arn:aws:sts::<account>:assumed-role/<access key id>/aigw-provider``), the region the
    credential scope's. A Bedrock API key (``Bearer``) is the IAM user AWS creates for it; no
    credential, an anonymous role."""
    signed = _SIGV4.search(authorization)
    if signed is not None:
        key, region = signed.groups()
        return Caller(f"arn:aws:sts::{account_id}:assumed-role/{key}/aigw-provider", region)
    if authorization.startswith("Bearer "):
        return Caller(f"arn:aws:iam::{account_id}:user/BedrockAPIKey", DEFAULT_REGION)
    return Caller(f"arn:aws:sts::{account_id}:assumed-role/anonymous/aigw-provider", DEFAULT_REGION)


@dataclass(frozen=True, slots=True)
class ServedCall:
    """One call the provider answered, as its record will say."""

    at: float
    """When the request arrived (Unix seconds)."""
    caller: Caller
    request_id: str
    operation: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    metadata: Mapping[str, str] | None = None


class InvocationLogSink:
    """Buffers served calls and writes them from its own thread; ``close`` writes the rest."""

    def __init__(
        self,
        location: LakeLocation,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        flush_interval_s: float = 5.0,
        flush_records: int = 5_000,
    ) -> None:
        self.location = location
        self.account_id = account_id
        self.flush_interval_s = flush_interval_s
        self.flush_records = flush_records
        self.records = 0
        self.objects = 0
        self._pending: list[ServedCall] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._name = uuid.uuid4().hex[:12]  # this process's objects never overwrite another's
        self._sequence = 0
        self._formats: dict[str, RecordFormat] = {}
        self._thread = threading.Thread(target=self._run, name="aigw-invocation-logs", daemon=True)
        self._thread.start()

    def log(self, call: ServedCall) -> None:
        """Called on the event loop: append, and wake the writer when enough are waiting."""
        with self._lock:
            self._pending.append(call)
            waiting = len(self._pending)
        if waiting >= self.flush_records:
            self._wake.set()

    def close(self, timeout_s: float = 60.0) -> None:
        """Write every call logged so far and stop the writer."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout_s)
        if self._pending:
            print(
                f"aigw provider: {len(self._pending)} invocation-log records could not be written to "
                f"{self.location.url}",
                file=sys.stderr,
            )

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write the calls waiting now, one object per region and hour; on a failed write keep them."""
        with self._lock:
            calls, self._pending = self._pending, []
        if not calls:
            return
        groups: dict[tuple[str, int], list[ServedCall]] = defaultdict(list)
        for call in calls:
            groups[(call.caller.region, int(call.at // 3600))].append(call)
        for (region, hour), group in sorted(groups.items()):
            try:
                self._write(region, hour, group)
            except OSError as exc:
                print(f"aigw provider: writing invocation logs to {self.location.url} failed ({exc}); "
                      f"{len(group)} records kept for the next try", file=sys.stderr)
                with self._lock:
                    self._pending[:0] = group

    def _write(self, region: str, hour: int, calls: list[ServedCall]) -> None:
        record = self._formats.get(region)
        if record is None:
            record = self._formats[region] = RecordFormat(self.account_id, region)
        lines = [
            record.line(
                timestamp(dt.datetime.fromtimestamp(call.at, dt.UTC)),
                json_text(call.caller.arn),
                call.request_id,
                call.operation,
                json_text(call.model),
                call.input_tokens,
                call.output_tokens,
                cache_counts(call.cache_read_tokens, call.cache_write_tokens),
                request_metadata(call.metadata or {}),
            )
            for call in calls
        ]
        self._sequence += 1
        folder = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
        first = dt.datetime.fromtimestamp(calls[0].at, dt.UTC)
        key = object_key(self.account_id, region, folder, first, f"{self._name}-{self._sequence:06d}")
        self.location.write_bytes(key, gzip_lines(lines))
        self.records += len(calls)
        self.objects += 1
