"""Who may mark traffic as load-test traffic: a run id starting with ``lt-`` (``LOAD_TEST_RUN_PREFIX``).

The cost marts and budget seeding leave such traffic out of the tenant's spend, so a tenant free to
send ``x-aigw-run-id: lt-…`` could hide its own spend from showback and from the budget a restarted
gateway starts with. Only a caller granted it may: an API key with ``load_tests: true``, or a token
carrying ``identity.oidc.load_tests``. Anyone else gets a 403 naming the run id; the gateway never
rewrites the run id. Other run ids are free-form and stay unchecked.
"""

from __future__ import annotations

from gateway_shim.policy.callers import Caller
from gateway_shim.telemetry.layout import LOAD_TEST_RUN_PREFIX

LOAD_TEST_NOT_ALLOWED = "load_test_not_allowed"
"""The refusal's error code (HTTP 403, ``permission_error``)."""


def marks_load_test(run_id: str | None) -> bool:
    """True for a run id the cost marts and budget seeding treat as load-test traffic."""
    return run_id is not None and run_id.startswith(LOAD_TEST_RUN_PREFIX)


def load_test_refusal(caller: Caller, run_id: str | None) -> str | None:
    """Why ``caller`` may not send ``run_id``, or ``None`` (any other run id, or a granted caller)."""
    if caller.load_tests or not marks_load_test(run_id):
        return None
    return (f"run id {run_id!r} marks load-test traffic (prefix {LOAD_TEST_RUN_PREFIX!r}), which is kept "
            f"out of tenant {caller.tenant_id!r}'s spend; only API keys with 'load_tests: true' (or tokens "
            "granted identity.oidc.load_tests) may send it: use another run id or a load-test key")
