"""Shared simulation runs: each is computed once per session, in memory (no lake), and reused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from gateway_shim.simulate.run import Options, Prepared, prepare, simulate_into
from gateway_shim.simulate.scenario import DEFAULT_SCENARIO

MONTH_START = dt.date(2026, 11, 1)
"""A window that holds the demo catalog's Haiku price change (2026-11-15)."""


def simulate_events(prepared: Prepared) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    simulate_into(prepared, events.append)
    return events


MONTH_SURGE_PER_HOUR = 200
"""At 5 % traffic initech's own spend is 5 % too, so the month run raises the default scenario's
absolute surge (60/h, tuned to overrun the 900 USD budget around day 20 at scale 1) to overrun it
within the run. Everything else is the default scenario."""


@pytest.fixture(scope="session")
def month_prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The default scenario over 22 days at 5 % traffic: every incident but the breaker (see its test)."""
    document = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    surge = next(i for i in document["incidents"] if i["kind"] == "traffic_surge")
    surge["requests_per_hour"] = MONTH_SURGE_PER_HOUR
    path = tmp_path_factory.mktemp("scenario") / "month.yaml"
    path.write_text(yaml.safe_dump(document))
    return prepare(Options(days=22, start=MONTH_START, seed=11, scale=0.05, scenario=path))


@pytest.fixture(scope="session")
def month_events(month_prepared: Prepared) -> list[dict[str, Any]]:
    return simulate_events(month_prepared)
