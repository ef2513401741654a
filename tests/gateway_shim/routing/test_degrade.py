from __future__ import annotations

from gateway_shim.routing.degrade import degraded_chain, under_pressure
from gateway_shim.types import Target

DEAR = Target("p", "dear")
MID = Target("p", "mid")
CHEAP = Target("p", "cheap")
PRICE = {DEAR: 10.0, MID: 1.0, CHEAP: 0.5}


def test_pressure_starts_at_the_threshold() -> None:
    assert not under_pressure(89.99, 100.0, 90)
    assert under_pressure(90.0, 100.0, 90)
    assert not under_pressure(1000.0, 100.0, None)


def test_degraded_chain_puts_the_cheaper_target_first_and_drops_dearer_ones() -> None:
    assert degraded_chain((DEAR, CHEAP, MID), MID, PRICE.__getitem__) == (MID, CHEAP)
    assert degraded_chain((DEAR, MID), None, PRICE.__getitem__) == (DEAR, MID)
