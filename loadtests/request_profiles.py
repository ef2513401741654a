"""What a load-test request says about itself: the gateway's request contract, per traffic profile.

Pure and free of Locust, so the harness, the verdicts and the tests share it. The demo API keys are
the well-known ones of the demo config (``demo-acme`` ...); a playbook config keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAT_PATH = "/v1/chat/completions"

DEMO_KEYS = {"acme": "demo-acme", "globex": "demo-globex", "initech": "demo-initech"}


@dataclass(frozen=True, slots=True)
class Profile:
    """One kind of request a scenario sends: whose, which lane and workflow, and how big."""

    tenant: str
    lane: str
    workflow: str
    app: str
    max_tokens: int
    sensitivity: str = "internal"
    budget_class: str = "standard"
    prompt_version: str = "loadtest-v1"
    user: str = "loadtest"

    @property
    def api_key(self) -> str:
        return DEMO_KEYS[self.tenant]


BUDGET_SPENDER = Profile("initech", "standard", "general", "ai-search", max_tokens=64)
"""The budget playbook's tenant near its budget; its verdict prices worst-case reservations with it."""
BUDGET_BYSTANDER = Profile("acme", "standard", "general", "checkout-assistant", max_tokens=64)


def headers(profile: Profile, run_id: str) -> dict[str, str]:
    """The request-contract headers (docs/gateway.md, "Request headers") plus the run id tagging telemetry."""
    return {
        "Authorization": f"Bearer {profile.api_key}",
        "x-aigw-workflow": profile.workflow,
        "x-aigw-app": profile.app,
        "x-aigw-user": profile.user,
        "x-aigw-sensitivity": profile.sensitivity,
        "x-aigw-latency-class": profile.lane,
        "x-aigw-budget-class": profile.budget_class,
        "x-aigw-prompt-version": profile.prompt_version,
        "x-aigw-run-id": run_id,
    }


def body(profile: Profile, sequence: int) -> dict[str, object]:
    """A short OpenAI chat body; ``sequence`` varies the prompt so answers are not all identical."""
    return {
        "model": "",
        "max_tokens": profile.max_tokens,
        "messages": [
            {"role": "system", "content": f"You help the {profile.app} team."},
            {"role": "user", "content": f"Summarise ticket {sequence} for the {profile.workflow} workflow."},
        ],
    }
