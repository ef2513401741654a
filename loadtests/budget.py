"""Budget: a tenant close to its monthly budget keeps sending. Pass if its spend stops at the budget
within the bound of in-flight reservations, requests degrade (cheaper model or fewer output tokens)
before the hard stop when the config says so, the stop answers 429 + Retry-After, and another tenant
is not affected (docs/loadtests.md, "budget").

Run (full length, starts its own provider and gateway):   aigw loadtest budget
Against a running gateway (its config must give the tenant a small budget):
    aigw loadtest budget --host http://127.0.0.1:8080 --config my-budget-config.yaml
Plain Locust (no verdict):
    locust -f loadtests/budget.py --headless -u 10 -r 10 -t 120s --host http://127.0.0.1:8080 --aigw-out ./out
"""

from __future__ import annotations

from locust import constant_throughput, task

from loadtests.base import PlaybookUser
from loadtests.request_profiles import BUDGET_BYSTANDER, BUDGET_SPENDER


class SpenderUser(PlaybookUser):
    """The tenant near its budget."""

    weight = 4
    wait_time = constant_throughput(2.0)

    @task
    def spend(self) -> None:
        """A standard request on the tenant with the small budget."""
        self.chat(BUDGET_SPENDER)


class BystanderUser(PlaybookUser):
    """Another tenant with budget to spare: its requests must keep succeeding."""

    weight = 1
    wait_time = constant_throughput(1.0)

    @task
    def spend(self) -> None:
        """A standard request on a tenant far from its budget."""
        self.chat(BUDGET_BYSTANDER)
