"""Circuit: a flapping provider (the primary model goes down and up again, three times). Pass if the
breaker opens, half-opens and closes as configured, and the failing model sees no request storm
while it is down (docs/loadtests.md, "circuit").

Run (full length, starts its own provider and gateway):   aigw loadtest circuit
Against a running gateway and provider:
    aigw loadtest circuit --host http://127.0.0.1:8080 --provider-url http://127.0.0.1:9000 \
        --config aigw.yaml
Plain Locust (no verdict):
    locust -f loadtests/circuit.py --headless -u 16 -r 8 -t 240s --host http://127.0.0.1:8080 \
        --aigw-provider-url http://127.0.0.1:9000 --aigw-out ./out
"""

from __future__ import annotations

from typing import Any

from locust import constant_throughput, events, task

from loadtests.base import FaultStep, PlaybookUser, start_fault_schedule
from loadtests.contract import Profile

PRIMARY = "anthropic.claude-3-5-haiku-v1"
DOWN_UP = [(0.10, 0.25), (0.40, 0.55), (0.70, 0.80)]
SCHEDULE = [
    step
    for down, up in DOWN_UP
    for step in (FaultStep(down, "down", PRIMARY, {"outage": True}), FaultStep(up, "up", PRIMARY, None))
]

INTERACTIVE = Profile("acme", "interactive", "support-summary", "checkout-assistant", max_tokens=16)


@events.test_start.add_listener
def _faults(**_: Any) -> None:
    start_fault_schedule(SCHEDULE)


class CircuitUser(PlaybookUser):
    wait_time = constant_throughput(2.0)

    @task
    def interactive(self) -> None:
        """Interactive chat whose primary model flaps."""
        self.chat(INTERACTIVE)
