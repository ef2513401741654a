"""Steady: mixed lanes, tenants and workflows at a fixed rate. Pass if the error rate and each
lane's p95 latency meet the lanes' SLOs (docs/loadtests.md, "steady").

Run (full length, starts its own provider and gateway):   aigw loadtest steady
Against a running gateway and provider:                    aigw loadtest steady --host http://127.0.0.1:8080
Plain Locust (no verdict, just the load):
    locust -f loadtests/steady.py --headless -u 12 -r 12 -t 300s --host http://127.0.0.1:8080 \
        --aigw-run-id my-run --aigw-out ./out
"""

from __future__ import annotations

from locust import constant_throughput, task

from loadtests.base import PlaybookUser
from loadtests.request_profiles import Profile

INTERACTIVE = Profile("acme", "interactive", "support-summary", "checkout-assistant", max_tokens=24)
STANDARD = Profile("globex", "standard", "ai-search", "support-desk", max_tokens=48)
BATCH = Profile("initech", "batch", "doc-indexing", "doc-indexer", max_tokens=64)


class SteadyUser(PlaybookUser):
    """One request a second per user: half interactive, a third standard, the rest batch."""

    wait_time = constant_throughput(1.0)

    @task(3)
    def interactive(self) -> None:
        """A support agent waiting on a summary."""
        self.chat(INTERACTIVE)

    @task(2)
    def standard(self) -> None:
        """A search answer."""
        self.chat(STANDARD)

    @task(1)
    def batch(self) -> None:
        """An indexing job's call."""
        self.chat(BATCH)
