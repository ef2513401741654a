"""Circuit: a flapping provider (the primary model is down 5 s, up 4 s, again and again). Pass if the
breaker opens, half-opens and closes as configured, and the failing model sees no request storm
while it is down (docs/loadtests.md, "circuit").

Run (full length, starts its own provider and gateway):   aigw loadtest circuit
Against a running gateway and provider:
    aigw loadtest circuit --host http://127.0.0.1:8080 --provider-url http://127.0.0.1:9000 \
        --config aigw.yaml
Plain Locust (no verdict):
    locust -f loadtests/circuit.py --headless -u 10 -r 10 -t 240s --host http://127.0.0.1:8080 \
        --aigw-provider-url http://127.0.0.1:9000 --aigw-out ./out
"""

from __future__ import annotations

from typing import Any

from locust import constant_throughput, events, task

from loadtests.base import RUN, FaultStep, PlaybookUser, start_fault_schedule, start_provider_sampler
from loadtests.request_profiles import Profile

PRIMARY = "anthropic.claude-3-5-haiku-v1"
FIRST_DOWN_S, DOWN_S, UP_S = 1.0, 5.0, 4.0
"""Long enough down for the breaker to open and send probes, long enough up for it to close."""


def flaps(run_time_s: float) -> list[FaultStep]:
    """Down/up cycles from ``FIRST_DOWN_S`` for as many whole cycles as the run holds."""
    steps, down = [], FIRST_DOWN_S
    while down + DOWN_S + UP_S <= run_time_s:
        steps += [FaultStep(down / run_time_s, "down", PRIMARY, {"outage": True}),
                  FaultStep((down + DOWN_S) / run_time_s, "up", PRIMARY, None)]
        down += DOWN_S + UP_S
    return steps

INTERACTIVE = Profile("acme", "interactive", "support-summary", "checkout-assistant", max_tokens=16)


@events.test_start.add_listener
def _faults(**_: Any) -> None:
    start_fault_schedule(flaps(RUN.run_time_s))
    start_provider_sampler()


class CircuitUser(PlaybookUser):
    wait_time = constant_throughput(2.0)

    @task
    def interactive(self) -> None:
        """Interactive chat whose primary model flaps."""
        self.chat(INTERACTIVE)
