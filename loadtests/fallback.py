"""Fallback: mid-run, a full outage and then a 50% error rate on the primary model, injected through
the provider's control API. Pass if >= 99% of requests still succeed, the affected requests carry
``fallback_used``, the breaker opens and closes again after the fault is cleared, and interactive
p95 stays within its SLO plus the documented fallback allowance (docs/loadtests.md, "fallback").

Run (full length, starts its own provider and gateway):   aigw loadtest fallback
Against a running gateway and provider:
    aigw loadtest fallback --host http://127.0.0.1:8080 --provider-url http://127.0.0.1:9000 \
        --config aigw.yaml
Plain Locust (no verdict):
    locust -f loadtests/fallback.py --headless -u 12 -r 12 -t 240s --host http://127.0.0.1:8080 \
        --aigw-provider-url http://127.0.0.1:9000 --aigw-out ./out
"""

from __future__ import annotations

from typing import Any

from locust import constant_throughput, events, task

from loadtests.base import FaultStep, PlaybookUser, start_fault_schedule, start_provider_sampler
from loadtests.request_profiles import Profile

PRIMARY = "anthropic.claude-3-5-haiku-v1"
# Fractions of the run: healthy, full outage, 50% errors, healthy again (long enough for the
# breaker's open period and its half-open probes to close it).
SCHEDULE = [
    FaultStep(0.20, "outage", PRIMARY, {"outage": True}),
    FaultStep(0.40, "errors", PRIMARY, {"error_rate": 0.5, "status": 500}),
    FaultStep(0.55, "clear", PRIMARY, None),
]

INTERACTIVE = Profile("acme", "interactive", "support-summary", "checkout-assistant", max_tokens=24)
STANDARD = Profile("globex", "standard", "general", "support-desk", max_tokens=32)


@events.test_start.add_listener
def _faults(**_: Any) -> None:
    start_fault_schedule(SCHEDULE)
    start_provider_sampler()


class FallbackUser(PlaybookUser):
    wait_time = constant_throughput(1.0)

    @task(2)
    def interactive(self) -> None:
        """Interactive chat on the primary model's route."""
        self.chat(INTERACTIVE)

    @task(1)
    def standard(self) -> None:
        """Standard traffic on the default route (same primary)."""
        self.chat(STANDARD)
