"""Shared simulation runs: each is computed once per session, in memory (no lake), and reused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway_shim.simulate.run import Options, Prepared, prepare, simulate_into

MONTH_START = dt.date(2026, 11, 1)
"""A window that holds the demo catalog's Haiku price change (2026-11-15)."""


def simulate_events(prepared: Prepared) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    simulate_into(prepared, events.append)
    return events


@pytest.fixture(scope="session")
def month_prepared() -> Prepared:
    """The default scenario over 22 days at 5 % traffic: every incident but the breaker (see its test)."""
    return prepare(Options(days=22, start=MONTH_START, seed=11, scale=0.05))


@pytest.fixture(scope="session")
def month_events(month_prepared: Prepared) -> list[dict[str, Any]]:
    return simulate_events(month_prepared)
