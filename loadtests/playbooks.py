"""The playbooks ``aigw loadtest`` knows: locustfile, playbook config, load and full-length duration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    users: int | None
    """Locust users (``None``: the scenario's load shape decides)."""
    spawn_rate: float | None
    duration_s: float
    """The full-length run, what an SRE runs before an incident; tests pass a short ``--duration``."""
    min_duration_s: float
    """The shortest run in which every criterion can be measured (e.g. one whole down/up cycle)."""

    @property
    def locustfile(self) -> Path:
        return HERE / f"{self.name}.py"

    @property
    def config(self) -> Path:
        return CONFIGS / f"{self.name}.yaml"


PLAYBOOKS: dict[str, Playbook] = {
    p.name: p
    for p in (
        Playbook("steady", users=12, spawn_rate=12, duration_s=300, min_duration_s=5),
        Playbook("fallback", users=12, spawn_rate=12, duration_s=240, min_duration_s=8),
        Playbook("saturation", users=None, spawn_rate=None, duration_s=300, min_duration_s=10),
        Playbook("budget", users=10, spawn_rate=10, duration_s=120, min_duration_s=5),
        Playbook("circuit", users=10, spawn_rate=10, duration_s=240, min_duration_s=10),
    )
}


def playbook(name: str) -> Playbook:
    try:
        return PLAYBOOKS[name]
    except KeyError:
        raise ValueError(f"unknown playbook {name!r}; choose one of: {', '.join(PLAYBOOKS)}") from None
