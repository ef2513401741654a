from __future__ import annotations

import datetime as dt

from gateway_shim.simulate.scenario import load_scenario
from gateway_shim.simulate.traffic import TrafficModel, expected_requests

MONDAY = dt.date(2026, 11, 2)


def test_same_seed_same_arrivals_and_a_different_seed_differs() -> None:
    scenario = load_scenario().scenario
    first = TrafficModel(scenario, MONDAY, scale=0.1, seed=3).hour(10)
    again = TrafficModel(scenario, MONDAY, scale=0.1, seed=3).hour(10)
    other = TrafficModel(scenario, MONDAY, scale=0.1, seed=4).hour(10)
    assert first == again
    assert first != other
    assert [a[0] for a in first] == sorted(a[0] for a in first)


def test_about_fifty_thousand_requests_a_day_at_scale_one() -> None:
    model = TrafficModel(load_scenario().scenario, MONDAY, scale=1.0, seed=1)
    week = expected_requests(model, 7 * 24)
    assert 45_000 <= week / 7 <= 56_000


def test_office_hours_and_weekdays_are_busier() -> None:
    model = TrafficModel(load_scenario().scenario, MONDAY, scale=1.0, seed=1)
    support = next(s for s in model.sources if model.scenario.streams[s.stream].name == "globex-support")
    assert model.rate_per_hour(support, 10) > 5 * model.rate_per_hour(support, 3)
    saturday_10h = 5 * 24 + 10
    assert model.rate_per_hour(support, 10) > 2 * model.rate_per_hour(support, saturday_10h)


def test_storm_traffic_is_absolute_and_comes_from_one_user() -> None:
    scenario = load_scenario().scenario
    storm = next(i for i in scenario.incidents if i.kind == "rate_limit_storm")
    small = TrafficModel(scenario, MONDAY, scale=0.01, seed=1)
    hour = int(storm.at // 3600)
    users = [a[2] for a in small.hour(hour)]
    assert users.count(storm.user) > 0.8 * storm.requests_per_min * storm.duration / 60
