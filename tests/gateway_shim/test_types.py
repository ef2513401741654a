"""The hot-path named constructors: each parameter lands in the field of its name, in field order.

They are called positionally, so a swap of two same-typed parameters (or fields) must fail here.
"""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Any

from gateway_shim.types import Plan, RequestContext


def _parameters(constructor: Any) -> list[str]:
    return list(inspect.signature(constructor).parameters)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def test_request_context_arrived_names_every_field_in_field_order() -> None:
    assert _parameters(RequestContext.arrived) == _field_names(RequestContext)


def test_request_context_arrived_puts_each_argument_in_its_own_field() -> None:
    names = _parameters(RequestContext.arrived)
    sentinels = [object() for _ in names]
    ctx = RequestContext.arrived(*sentinels)
    assert {name: getattr(ctx, name) for name in names} == dict(zip(names, sentinels, strict=True))
    assert ctx == RequestContext(**dict(zip(names, sentinels, strict=True)))


def test_plan_admitted_names_the_admission_fields_in_field_order() -> None:
    names = _parameters(Plan.admitted)
    assert names == _field_names(Plan)[:len(names)]
    assert names[-1] == "degraded" and "attempts" not in names


def test_plan_admitted_puts_each_argument_in_its_own_field_and_starts_the_rest_at_their_defaults() -> None:
    names = _parameters(Plan.admitted)
    sentinels = [object() for _ in names]
    plan = Plan.admitted(*sentinels)
    assert {name: getattr(plan, name) for name in names} == dict(zip(names, sentinels, strict=True))
    # The generated __init__ with keywords is the reference: every other field at its default.
    assert plan == Plan(**dict(zip(names, sentinels, strict=True)))
    assert (plan.attempts, plan.cursor, plan.served, plan.finished) == (0, 0, None, False)
