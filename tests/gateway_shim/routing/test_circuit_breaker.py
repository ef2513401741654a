from __future__ import annotations

from gateway_shim.config.models import CircuitBreaker as Settings
from gateway_shim.routing.circuit_breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

SETTINGS = Settings(window_s=30, min_requests=10, failure_rate=0.5, open_s=15, half_open_probes=3)


def opened(at: float = 0.0) -> CircuitBreaker:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(10):
        breaker.record(False, at)
    assert breaker.state == OPEN
    return breaker


def test_stays_closed_below_min_requests_or_below_the_failure_rate() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(9):
        breaker.record(False, 0.0)
    assert breaker.state == CLOSED
    mixed = CircuitBreaker(SETTINGS)
    for i in range(40):
        mixed.record(i % 3 != 0, float(i) * 0.1)  # one in three fails
    assert mixed.state == CLOSED


def test_opens_at_the_failure_rate_over_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for i in range(5):
        breaker.record(True, float(i))
    for i in range(4):
        breaker.record(False, 5.0 + i)
    assert breaker.state == CLOSED  # 4 of 9: too few requests
    breaker.record(False, 9.0)
    assert breaker.state == OPEN  # 5 of 10 failed


def test_old_results_leave_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(9):
        breaker.record(False, 0.0)
    breaker.record(False, 31.0)  # the nine are older than 30 s by now
    assert breaker.state == CLOSED


def test_open_refuses_until_open_s_then_lets_limited_probes_through() -> None:
    breaker = opened()
    assert not breaker.allow(14.9)
    assert [breaker.allow(15.0) for _ in range(4)] == [True, True, True, False]
    assert breaker.state == HALF_OPEN


def test_probe_successes_close_it_and_a_probe_failure_reopens_it() -> None:
    breaker = opened()
    for _ in range(3):
        assert breaker.allow(15.0)
    breaker.record(True, 15.1)
    breaker.record(True, 15.2)
    assert breaker.state == HALF_OPEN
    breaker.record(True, 15.3)
    assert breaker.state == CLOSED and breaker.allow(15.3)

    again = opened()
    assert again.allow(15.0)
    again.record(False, 15.5)
    assert again.state == OPEN and not again.allow(20.0) and again.allow(30.5)


def test_lost_probes_are_forgotten_after_open_s() -> None:
    breaker = opened()
    for _ in range(3):
        assert breaker.allow(15.0)
    assert not breaker.allow(29.0)
    assert breaker.allow(30.0)


def test_results_arriving_while_open_are_ignored() -> None:
    breaker = opened()
    breaker.record(True, 1.0)
    assert breaker.state == OPEN and not breaker.allow(2.0)


def test_results_are_counted_per_slice_and_a_late_stamp_counts_in_the_newest() -> None:
    breaker = CircuitBreaker(SETTINGS)  # 30 s window in 3 s slices
    for i in range(10):
        breaker.record(True, 100.0 + i * 0.1)
    breaker.record(False, 50.0)  # late: counted now, not in a stale slot
    for _ in range(8):
        breaker.record(False, 101.0)
    assert breaker.state == CLOSED  # 9 failures of 19
    breaker.record(False, 101.0)
    assert breaker.state == OPEN  # 10 of 20


def test_a_long_quiet_spell_empties_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(9):
        breaker.record(False, 0.0)
    for _ in range(5):
        breaker.record(True, 1000.0)
    for _ in range(4):
        breaker.record(False, 1000.0)
    assert breaker.state == CLOSED  # the nine old failures are gone: 4 of 9
