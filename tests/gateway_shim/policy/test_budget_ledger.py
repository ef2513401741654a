from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_shim.policy.budget_ledger import BudgetLedger

MONTH = 2026 * 12 + 10


def test_reserve_then_settle_books_the_actual_cost() -> None:
    ledger = BudgetLedger({"t": 10.0})
    assert ledger.try_reserve("t", MONTH, 4.0)
    assert ledger.committed("t", MONTH) == 4.0
    ledger.settle("t", MONTH, 4.0, 1.5)
    assert ledger.spent("t", MONTH) == 1.5
    assert ledger.reserved("t", MONTH) == 0.0


def test_a_reservation_that_does_not_fit_holds_nothing() -> None:
    ledger = BudgetLedger({"t": 10.0})
    ledger.seed("t", MONTH, 7.0)
    assert ledger.try_reserve("t", MONTH, 2.0)
    assert not ledger.try_reserve("t", MONTH, 1.5)
    assert ledger.reserved("t", MONTH) == 2.0
    assert ledger.try_reserve("t", MONTH + 1, 9.0)  # a new month starts from zero


@settings(max_examples=200, deadline=None)
@given(
    budget=st.floats(min_value=0.01, max_value=1000),
    requests=st.lists(
        st.tuples(st.floats(min_value=0, max_value=50), st.floats(min_value=0, max_value=1),
                  st.booleans()),
        max_size=200,
    ),
)
def test_spend_never_passes_the_budget_when_actual_costs_stay_within_reservations(
    budget: float, requests: list[tuple[float, float, bool]]
) -> None:
    """Interleaved reservations and settlements (settle when the flag says so, else stay in flight)."""
    ledger = BudgetLedger({"t": budget})
    in_flight: list[tuple[float, float]] = []
    for amount, fraction, settle_one in requests:
        if ledger.try_reserve("t", MONTH, amount):
            in_flight.append((amount, amount * fraction))
        if settle_one and in_flight:
            reserved, actual = in_flight.pop(0)
            ledger.settle("t", MONTH, reserved, actual)
        assert ledger.committed("t", MONTH) <= budget * (1 + 1e-9)
    for reserved, actual in in_flight:
        ledger.settle("t", MONTH, reserved, actual)
    assert ledger.spent("t", MONTH) <= budget * (1 + 1e-9)
