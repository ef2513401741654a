"""Load-test run ids: every one starts with ``LOAD_TEST_RUN_PREFIX``, so the cost marts and budget
seeding can keep load traffic apart from tenant spend (docs/security.md, "Load-test traffic")."""

from __future__ import annotations

import secrets
import time

from gateway_shim.telemetry.layout import LOAD_TEST_RUN_PREFIX


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def new_run_id(playbook: str) -> str:
    """A run started by ``aigw loadtest PLAYBOOK``."""
    return f"{LOAD_TEST_RUN_PREFIX}{playbook}-{_stamp()}-{secrets.token_hex(3)}"


def new_web_run_id() -> str:
    """A run started without ``--aigw-run-id``: Locust's web UI (each press of start), plain ``locust -f``."""
    return f"{LOAD_TEST_RUN_PREFIX}web-{_stamp()}-{secrets.token_hex(3)}"


def load_test_run_id(given: str) -> str:
    """``given`` (``--aigw-run-id``) with the load-test prefix; empty stays empty."""
    if not given or given.startswith(LOAD_TEST_RUN_PREFIX):
        return given
    return f"{LOAD_TEST_RUN_PREFIX}{given}"
