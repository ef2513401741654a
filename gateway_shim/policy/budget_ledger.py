"""Month-to-date budgets with reservations: hold the worst-case cost before the call, settle after.

Admission requires ``spent + reserved + this reservation <= budget``. Settling replaces a reservation
by the actual cost, which is at most the reservation whenever the prompt estimate was not exceeded
(output is capped by ``max_tokens``, priced at the chain's most expensive target). So spend can pass
the budget only by what requests already admitted turn out to cost beyond their reservations, and
never by more than the reservations in flight when they were admitted.
"""

from __future__ import annotations

from collections.abc import Mapping


class BudgetLedger:
    """Spent and reserved USD per (tenant, month); single-threaded."""

    __slots__ = ("_budgets", "_reserved", "_spent")

    def __init__(self, budgets: Mapping[str, float]) -> None:
        self._budgets = dict(budgets)
        self._spent: dict[tuple[str, int], float] = {}
        self._reserved: dict[tuple[str, int], float] = {}

    def budget(self, tenant: str) -> float:
        return self._budgets[tenant]

    def spent(self, tenant: str, month: int) -> float:
        return self._spent.get((tenant, month), 0.0)

    def reserved(self, tenant: str, month: int) -> float:
        return self._reserved.get((tenant, month), 0.0)

    def committed(self, tenant: str, month: int) -> float:
        """Spent plus held: what the next admission is checked against."""
        key = (tenant, month)
        return self._spent.get(key, 0.0) + self._reserved.get(key, 0.0)

    def try_reserve(self, tenant: str, month: int, amount: float) -> bool:
        """Hold ``amount`` if it fits in the budget; otherwise hold nothing and return False."""
        key = (tenant, month)
        reserved = self._reserved.get(key, 0.0)
        if self._spent.get(key, 0.0) + reserved + amount > self._budgets[tenant]:
            return False
        self._reserved[key] = reserved + amount
        return True

    def settle(self, tenant: str, month: int, reserved: float, actual: float) -> None:
        """Release a reservation and book the actual cost instead (0.0 for a call that cost nothing)."""
        key = (tenant, month)
        self._reserved[key] = max(0.0, self._reserved.get(key, 0.0) - reserved)
        self._spent[key] = self._spent.get(key, 0.0) + actual

    def set_budgets(self, budgets: Mapping[str, float]) -> None:
        """New monthly budgets (a policy reload); spend and reservations carry on."""
        self._budgets.update(budgets)

    def seed(self, tenant: str, month: int, spent: float) -> None:
        """Start a month from an already-known spend (e.g. the warehouse's month-to-date on restart)."""
        self._spent[(tenant, month)] = spent
