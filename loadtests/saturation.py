"""Saturation: a stepped load that climbs beyond the gateway's capacity and back down. Capacity comes
from the lanes' concurrency limits and the provider's latency (loadtests/configs/saturation.yaml),
not from this machine's CPU. Pass if the gateway sheds with 429/503 + Retry-After (batch first,
interactive protected), returns no other gateway 5xx, keeps admitted interactive p95 within its SLO
and recovers within 30 s after the load drops; the report names the knee, the highest rate at which
every lane met its SLO (docs/loadtests.md, "saturation").

Run (full length, starts its own provider and gateway):   aigw loadtest saturation
Against a running gateway:                                 aigw loadtest saturation --host http://127.0.0.1:8080
Plain Locust (no verdict; the shape sets users and stops the run):
    locust -f loadtests/saturation.py --headless -t 300s --host http://127.0.0.1:8080 --aigw-out ./out
"""

from __future__ import annotations

from locust import LoadTestShape, constant_throughput, task

from loadtests.base import RUN, PlaybookUser
from loadtests.request_profiles import Profile

# (end of the stage as a fraction of the run time, users); the last stage is the drop back down.
STAGES = [(0.15, 4), (0.30, 10), (0.45, 20), (0.70, 40), (1.00, 4)]
SPAWN_RATE = 20.0

INTERACTIVE = Profile("acme", "interactive", "support-summary", "checkout-assistant", max_tokens=16)
STANDARD = Profile("globex", "standard", "general", "support-desk", max_tokens=16)
BATCH = Profile("initech", "batch", "doc-indexing", "doc-indexer", max_tokens=16)


class SaturationUser(PlaybookUser):
    """Mostly batch and standard work, some interactive: the flood that priorities must absorb."""

    wait_time = constant_throughput(2.0)

    @task(1)
    def interactive(self) -> None:
        """Interactive chat: must stay admitted and fast."""
        self.chat(INTERACTIVE)

    @task(2)
    def standard(self) -> None:
        """Standard traffic: shed after batch."""
        self.chat(STANDARD)

    @task(5)
    def batch(self) -> None:
        """Batch work: shed first."""
        self.chat(BATCH)


class SteppedLoad(LoadTestShape):
    """Steps through ``STAGES`` over the run time given with ``-t``; marks each stage as a phase (the first
    tick, and so ``stage0``'s mark, comes just before the test starts: ``RUN`` keeps it for that test)."""

    use_common_options = True  # it reads --run-time (Locust would otherwise warn that it is ignored)

    def __init__(self) -> None:
        super().__init__()
        self._stage = -1

    def reset_time(self) -> None:
        """A new run (Locust's web UI may start several): its stages are marked again from ``stage0``."""
        super().reset_time()
        self._stage = -1

    def tick(self) -> tuple[int, float] | None:
        run_time = RUN.run_time_s or 60.0
        elapsed = self.get_run_time()
        for index, (end, users) in enumerate(STAGES):
            if elapsed < end * run_time:
                if index != self._stage:
                    self._stage = index
                    RUN.mark("drop" if index == len(STAGES) - 1 else f"stage{index}", users=users)
                return users, SPAWN_RATE
        return None
