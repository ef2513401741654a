"""A tenant cannot hide its spend as load-test traffic: only a key granted ``load_tests`` may send an
``lt-`` run id; anyone else gets a 403 naming it, and everything it was charged is in the budget seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway_shim.telemetry.spend import month_start_of, read_month_spend
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.server.stack import (
    KEYS,
    Answer,
    GatewayProcess,
    ProviderProcess,
    call,
    chat,
    start_gateway,
)

RUN_ID = "lt-fallback-20261207T091500Z-abc123"


def _charged(answer: Answer) -> float:
    return float(answer.headers["x-aigw-cost-usd"])


def test_a_tenant_s_lt_run_id_is_refused_and_its_spend_stays_in_the_budget_seed(
        tmp_path: Path, provider: ProviderProcess) -> None:
    gateway = start_gateway(tmp_path, provider, gateway_id="lt-spoof-gw")
    url = f"{gateway.url}/v1/chat/completions"
    try:
        plain = call(url, chat(max_tokens=8), key=KEYS["acme"])
        hidden = call(url, chat(max_tokens=8), key=KEYS["acme"], headers={"x-aigw-run-id": RUN_ID})
        load_test = call(url, chat(max_tokens=8), key=KEYS["acme_loadtest"],
                         headers={"x-aigw-run-id": RUN_ID})
    finally:
        assert gateway.stop() == 0
    assert plain.status == 200 and load_test.status == 200
    # what the tenant's own key was charged is what a restarted gateway's budget starts from
    charged = sum(_charged(answer) for answer in (plain, hidden) if answer.status == 200)
    seeded = read_month_spend(LakeLocation.parse(gateway.lake_url), month_start_of(dt.datetime.now(dt.UTC)))
    assert seeded.by_tenant["acme"] == pytest.approx(charged, abs=1e-6)
    assert (hidden.status, hidden.json()["error"]["code"]) == (403, "load_test_not_allowed")
    assert hidden.json()["error"]["type"] == "permission_error"
    assert f"run id {RUN_ID!r}" in hidden.json()["error"]["message"]
    assert "load_tests: true" in hidden.json()["error"]["message"]
    # the refusal is not counted as load-test traffic either; the granted key's run is
    runs = {event["trace_id"]: event["run_id"] for event in gateway.events()}
    assert runs[hidden.headers["x-aigw-trace-id"]] == "invalid"
    assert runs[load_test.headers["x-aigw-trace-id"]] == RUN_ID
    assert runs[plain.headers["x-aigw-trace-id"]] is None


@pytest.mark.parametrize("where", ["header", "metadata"])
def test_an_lt_run_id_without_the_permission_is_refused_wherever_it_is_sent(gateway: GatewayProcess,
                                                                            where: str) -> None:
    body = chat(max_tokens=4)
    headers = {}
    if where == "header":
        headers["x-aigw-run-id"] = RUN_ID
    else:
        body["metadata"] = {"run_id": RUN_ID}
    answer = call(f"{gateway.url}/v1/chat/completions", body, key=KEYS["tiny"], headers=headers)
    assert (answer.status, answer.json()["error"]["code"]) == (403, "load_test_not_allowed")
    assert "tenant 'tiny'" in answer.json()["error"]["message"]


@pytest.mark.parametrize("run_id", ["nightly-7", "LT-upper", "blt-1"])
def test_other_run_ids_stay_free_form(gateway: GatewayProcess, run_id: str) -> None:
    answer = call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=4), key=KEYS["acme"],
                  headers={"x-aigw-run-id": run_id})
    assert answer.status == 200
