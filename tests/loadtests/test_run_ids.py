"""Every load-test run id carries the prefix the cost marts and budget seeding leave out."""

from __future__ import annotations

import re

from gateway_shim.telemetry.layout import LOAD_TEST_RUN_PREFIX
from loadtests.run_ids import load_test_run_id, new_run_id, new_web_run_id


def test_cli_and_web_runs_get_distinct_prefixed_ids() -> None:
    cli = new_run_id("fallback")
    assert re.fullmatch(rf"{LOAD_TEST_RUN_PREFIX}fallback-\d{{8}}T\d{{6}}Z-[0-9a-f]{{6}}", cli)
    web = {new_web_run_id() for _ in range(20)}
    assert len(web) == 20, "each press of start in Locust's web UI is its own run"
    assert all(run.startswith(f"{LOAD_TEST_RUN_PREFIX}web-") for run in web)


def test_a_given_run_id_is_prefixed_once() -> None:
    assert load_test_run_id("nightly-7") == f"{LOAD_TEST_RUN_PREFIX}nightly-7"
    assert load_test_run_id(f"{LOAD_TEST_RUN_PREFIX}x") == f"{LOAD_TEST_RUN_PREFIX}x"
    assert load_test_run_id("") == ""
