from __future__ import annotations

import random

import pytest

from gateway_shim.simulated_provider.faults import OK, FaultSet, FaultValidationError, parse_fault


@pytest.mark.parametrize(("body", "names"), [
    ([], "JSON object"),
    ({}, "model is required"),
    ({"model": ""}, "model is required"),
    ({"model": "m", "error_rate": 1.5}, "error_rate"),
    ({"model": "m", "throttle_rate": "0.5"}, "throttle_rate"),
    ({"model": "m", "error_rate": True}, "error_rate"),
    ({"model": "m", "status": 200}, "status"),
    ({"model": "m", "status": 503.0}, "status"),
    ({"model": "m", "added_latency_ms": -1}, "added_latency_ms"),
    ({"model": "m", "outage": "yes"}, "outage"),
    ({"model": "m", "outage_mode": "explode"}, "outage_mode"),
    ({"model": "m", "duration_s": 0}, "duration_s"),
    ({"model": "m", "surprise": 1}, "surprise"),
])
def test_invalid_faults_are_refused_with_the_field_named(body: object, names: str) -> None:
    with pytest.raises(FaultValidationError, match=names):
        parse_fault(body, now=0.0)


def test_a_valid_fault_round_trips() -> None:
    fault = parse_fault({"model": "gpt-4o-mini", "error_rate": 0.25, "status": 502, "throttle_rate": 0.1,
                         "added_latency_ms": 40, "duration_s": 30}, now=100.0)
    assert fault.expires_at == 130.0
    assert fault.to_json(now=110.0)["expires_in_s"] == 20.0
    assert fault.to_json(now=110.0)["status"] == 502


def test_no_fault_means_ok() -> None:
    assert FaultSet().decide("m", random.Random(0), 0.0) is OK


def test_certain_faults_always_fire() -> None:
    faults = FaultSet()
    rng = random.Random(0)
    faults.set(parse_fault({"model": "m", "throttle_rate": 1.0}, 0.0))
    assert {faults.decide("m", rng, 0.0).status for _ in range(50)} == {429}
    faults.set(parse_fault({"model": "m", "error_rate": 1.0, "status": 502}, 0.0))
    assert {faults.decide("m", rng, 0.0).status for _ in range(50)} == {502}
    faults.set(parse_fault({"model": "m", "outage": True, "outage_mode": "connection"}, 0.0))
    decision = faults.decide("m", rng, 0.0)
    assert (decision.kind, decision.status, decision.drop_connection) == ("outage", 503, True)


def test_error_rate_is_honoured_on_average() -> None:
    faults = FaultSet()
    faults.set(parse_fault({"model": "m", "error_rate": 0.3}, 0.0))
    rng = random.Random(11)
    errors = sum(faults.decide("m", rng, 0.0).kind == "error" for _ in range(5000))
    assert 1300 < errors < 1700


def test_model_fault_wins_over_wildcard_and_added_latency_applies_to_ok() -> None:
    faults = FaultSet()
    faults.set(parse_fault({"model": "*", "outage": True}, 0.0))
    faults.set(parse_fault({"model": "fast", "added_latency_ms": 50}, 0.0))
    rng = random.Random(0)
    assert faults.decide("other", rng, 0.0).kind == "outage"
    decision = faults.decide("fast", rng, 0.0)
    assert (decision.kind, decision.added_latency_ms) == ("ok", 50.0)


def test_faults_expire_and_clear() -> None:
    faults = FaultSet()
    faults.set(parse_fault({"model": "a", "outage": True, "duration_s": 10}, 0.0))
    faults.set(parse_fault({"model": "b", "outage": True}, 0.0))
    rng = random.Random(0)
    assert faults.decide("a", rng, 9.9).kind == "outage"
    assert faults.decide("a", rng, 10.0) is OK
    assert [f.model for f in faults.active(10.0)] == ["b"]
    assert faults.clear("nope") == 0
    assert faults.clear("b") == 1
    faults.set(parse_fault({"model": "c", "outage": True}, 0.0))
    assert faults.clear() == 1
    assert faults.active(0.0) == []
