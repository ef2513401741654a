"""What every playbook's locustfile shares: the user class, the run's files and the fault schedule.

Imported only inside the Locust process (it imports locust/gevent). Each request is recorded twice:
in Locust's own statistics (named by lane) and as a ``ClientRecord`` in ``<out>/requests.csv``,
which keeps the status, error code, ``Retry-After`` and ``x-aigw-*`` headers the verdicts need.
Phases (faults injected or cleared, load stages) go to ``<out>/phases.json`` with wall-clock times;
a load shape's first stage is marked before ``test_start`` (Locust ticks the shape, then starts the
test), so marks made before a test opens belong to that test.
"""

from __future__ import annotations

import itertools
import logging
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import orjson
from locust import FastHttpUser, events
from locust.env import Environment

from loadtests.control import ControlError, ProviderControl
from loadtests.records import (
    PHASES_FILE,
    PROVIDER_STATS_FILE,
    REQUEST_LOG,
    ClientRecord,
    Phase,
    ProviderSample,
    RequestLogWriter,
    write_phases,
    write_provider_samples,
)
from loadtests.request_profiles import CHAT_PATH, Profile, body, headers
from loadtests.run_ids import load_test_run_id, new_web_run_id

log = logging.getLogger("aigw.loadtest")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--aigw-run-id", default="", help="run id sent as x-aigw-run-id (telemetry run_id)")
    parser.add_argument("--aigw-provider-url", default="http://127.0.0.1:9000",
                        help="the simulated provider, for its /_control/faults API")
    parser.add_argument("--aigw-out", default="", help="folder for requests.csv and phases.json")
    parser.add_argument("--aigw-wait-for", action="append", default=[],
                        help="URL that must answer before the run (and its clock) starts; repeatable")
    parser.add_argument("--aigw-hosts", default="",
                        help="comma-separated gateways of a fleet: each user sends to one, in turn")


class RunState:
    """The run's id, output files and phase marks (one per Locust process)."""

    def __init__(self) -> None:
        self.run_id = ""
        self.given_run_id = ""
        """``--aigw-run-id`` (the harness's); empty: every test start (Locust's web UI too) gets a new id."""
        self.given_out = ""
        self.provider_url = ""
        self.run_time_s = 0.0
        self.hosts: list[str] = []
        self.started = 0.0
        self.out: Path | None = None
        self.phases: list[Phase] = []
        self._early: list[Phase] = []
        """Marks made before the test opened (a load shape's first stage), kept until ``open``."""
        self.provider_samples: list[ProviderSample] = []
        self._log: RequestLogWriter | None = None
        self._handle: Any = None

    def configure(self, environment: Environment) -> None:
        """From the command line, at ``init`` (a load shape ticks before ``test_start``)."""
        options = environment.parsed_options
        self.given_run_id = load_test_run_id(getattr(options, "aigw_run_id", "") or "")
        self.given_out = getattr(options, "aigw_out", "") or ""
        self.provider_url = getattr(options, "aigw_provider_url", "http://127.0.0.1:9000")
        self.run_time_s = float(getattr(options, "run_time", None) or 60)
        self.hosts = [h for h in str(getattr(options, "aigw_hosts", "") or "").split(",") if h]
        self._name_run()

    def _name_run(self) -> None:
        """This run's id and output folder: the given ones, or new ones for each run."""
        self.run_id = self.given_run_id or new_web_run_id()
        self.out = Path(self.given_out or f".aigw/loadtest-out/{self.run_id}")
        self.out.mkdir(parents=True, exist_ok=True)

    def open(self) -> None:
        """A test starts (from the command line, or the web UI's start button, maybe again and again)."""
        if self.started and not self.given_run_id:  # a second run in one Locust process: a new id
            self._name_run()
        self.phases, self._early, self.provider_samples = self._early, [], []
        assert self.out is not None, "configure() runs at init"
        self.started = time.time()
        self._handle = open(self.out / REQUEST_LOG, "w", newline="")  # noqa: SIM115 - closed at test_stop
        self._log = RequestLogWriter(self._handle)
        self.mark("start", run_time_s=self.run_time_s)

    def record(self, record: ClientRecord) -> None:
        if self._log is not None:
            self._log.write(record)

    def mark(self, name: str, **detail: Any) -> None:
        """A phase of the test; before it opens, of the test about to open (its folder may not exist yet)."""
        phase = Phase(name=name, t=time.time(), detail=detail)
        if not self.is_open:
            self._early.append(phase)
            return
        self.phases.append(phase)
        if self.out is not None:
            write_phases(self.out / PHASES_FILE, self.phases)

    def sample_provider(self, stats: dict[str, Any], t: float) -> None:
        models = stats.get("models") or {}
        self.provider_samples.append(ProviderSample(
            t=t, requests={m: int(c.get("requests", 0)) for m, c in models.items()},
            faults={m: int(c.get("faults", 0)) for m, c in models.items()}))

    @property
    def is_open(self) -> bool:
        return self._handle is not None

    def close(self) -> None:
        if self._handle is not None:
            if self.provider_samples and self.out is not None:
                write_provider_samples(self.out / PROVIDER_STATS_FILE, self.provider_samples)
            self.mark("stop")
            self._handle.close()
            self._handle = None
            self._log = None


RUN = RunState()

WAIT_FOR_TIMEOUT_S = 60.0


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    """Read the options, then block start-up until the gateway and provider answer, so the harness can
    start Locust alongside them; ``init`` fires before Locust's run-time clock starts."""
    RUN.configure(environment)
    urls = list(getattr(environment.parsed_options, "aigw_wait_for", None) or [])
    deadline = time.monotonic() + WAIT_FOR_TIMEOUT_S
    while urls:
        try:
            with urllib.request.urlopen(urls[0], timeout=1.0):
                urls.pop(0)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{urls[0]} did not answer within {WAIT_FOR_TIMEOUT_S:.0f}s") from None
            gevent.sleep(0.1)


@events.test_start.add_listener
def _open(environment: Environment, **_: Any) -> None:
    RUN.open()


@events.test_stop.add_listener
def _close(environment: Environment, **_: Any) -> None:
    RUN.close()


_sequence = itertools.count()
_users = itertools.count()


class PlaybookUser(FastHttpUser):
    """Sends chat completions through the gateway and records what came back.

    Against a fleet (``--aigw-hosts``) the users are dealt to the gateways in turn, as a load balancer
    with keep-alive connections would spread clients."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 5.0

    def __init__(self, environment: Environment) -> None:
        if RUN.hosts:
            self.host = RUN.hosts[next(_users) % len(RUN.hosts)]
        super().__init__(environment)

    def chat(self, profile: Profile) -> None:
        started = time.time()
        payload = body(profile, next(_sequence))
        sent = headers(profile, RUN.run_id)
        with self.client.post(CHAT_PATH, json=payload, headers=sent, name=profile.lane,
                              catch_response=True) as response:
            status = int(response.status_code or 0)
            code = "" if 200 <= status < 300 else _error_code(response.content)
            if 200 <= status < 300:
                response.success()
            else:
                response.failure(f"HTTP {status} {code}".strip())
            got = response.headers or {}
            RUN.record(ClientRecord(
                t=started, lane=profile.lane, tenant=profile.tenant, status=status,
                ms=float(response.request_meta["response_time"]),
                fallback=str(got.get("x-aigw-fallback", "")).lower() in ("true", "1", "yes"),
                retry_after=str(got.get("retry-after", "") or ""),
                model=str(got.get("x-aigw-model", "") or ""), code=code,
            ))


def _error_code(content: bytes | None) -> str:
    """The OpenAI-style ``error.code`` of a refusal, or a short reason when the body is not one."""
    if not content:
        return "no_body"
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return "not_json"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else "not_openai_error"


@dataclass(frozen=True, slots=True)
class FaultStep:
    """At ``at`` (a fraction of the run time), inject ``fault`` on ``model`` or clear it (``fault=None``)."""

    at: float
    name: str
    model: str
    fault: dict[str, Any] | None = None


def start_fault_schedule(steps: list[FaultStep]) -> None:
    """Run ``steps`` in a greenlet from the test's start; each becomes a phase mark when applied."""

    def run() -> None:
        control = ProviderControl(RUN.provider_url)
        for step in sorted(steps, key=lambda s: s.at):
            gevent.sleep(max(0.0, RUN.started + step.at * RUN.run_time_s - time.time()))
            sent = time.time()
            try:
                if step.fault is None:
                    control.clear(step.model)
                else:
                    control.inject(step.model, **step.fault)
            except ControlError as exc:
                log.error("fault step %s failed: %s", step.name, exc)
                RUN.mark("control_error", step=step.name, error=str(exc))
                continue
            # The fault is live somewhere between ``sent`` and the mark (after the provider answered).
            RUN.mark(step.name, model=step.model, fault=step.fault, sent=sent)

    gevent.spawn(run)


PROVIDER_SAMPLE_S = 0.25
"""How often the provider's own counters are read: the time resolution of the provider-side criteria."""


def start_provider_sampler(interval_s: float = PROVIDER_SAMPLE_S) -> None:
    """Read the provider's ``/_control/stats`` every ``interval_s`` from the test's start until it
    stops (at most the run time plus a minute); the samples go to ``provider_stats.json``."""

    def run() -> None:
        control = ProviderControl(RUN.provider_url, timeout_s=2.0)
        deadline = time.monotonic() + RUN.run_time_s + 60.0
        while RUN.is_open and time.monotonic() < deadline:
            t = time.time()
            try:
                RUN.sample_provider(control.stats(), t)
            except ControlError as exc:
                log.warning("provider stats sample failed: %s", exc)
            gevent.sleep(interval_s)

    gevent.spawn(run)
