"""A tenant cannot book its spend on another tenant's app: 403 with a JSON body naming the app."""

from __future__ import annotations

import pytest

from tests.gateway_shim.server.stack import GatewayProcess, call, chat


@pytest.mark.parametrize("where", ["header", "metadata"])
def test_an_app_of_another_tenant_is_refused_over_http(gateway: GatewayProcess, where: str) -> None:
    body = chat(max_tokens=4)
    headers = {}
    if where == "header":
        headers["x-aigw-app"] = "budget-app"
    else:
        body["metadata"] = {"app": "budget-app"}
    answer = call(f"{gateway.url}/v1/chat/completions", body, headers=headers)
    assert answer.status == 403
    error = answer.json()["error"]
    assert error["code"] == "app_not_allowed" and error["type"] == "permission_error"
    assert "'budget-app'" in error["message"] and "checkout-assistant" in error["message"]


def test_an_own_app_is_served(gateway: GatewayProcess) -> None:
    answer = call(f"{gateway.url}/v1/chat/completions", chat(max_tokens=4),
                  headers={"x-aigw-app": "checkout-assistant"})
    assert answer.status == 200
