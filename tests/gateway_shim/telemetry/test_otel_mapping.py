from __future__ import annotations

from gateway_shim.telemetry.otel_mapping import (
    is_error,
    metric_attributes,
    span_attributes,
    span_name,
    span_times,
    trace_id_of,
)
from tests.gateway_shim.telemetry.events import BASE_TS, make_event

KINDS = {"bedrock": "bedrock", "openai-compat": "openai", "selfhosted": "simulated"}


def test_a_served_request_maps_to_the_gen_ai_attributes() -> None:
    event = make_event(7, model_requested="auto", user_id="u-7", streamed=True)
    attributes = span_attributes(event, KINDS)
    assert {k: v for k, v in attributes.items() if not k.startswith("aigw.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "auto",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.response.model": "anthropic.claude-3-5-haiku-v1",
        "gen_ai.usage.input_tokens": 107,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": 0.15,
        "user.id": "u-7",
        "http.response.status_code": 200,
    }
    assert attributes["aigw.tenant_id"] == "globex" and attributes["aigw.estimated_cost_usd"] == 0.00052
    assert attributes["aigw.guardrail_actions"] == ["pii_redacted:email"]
    assert "aigw.run_id" not in attributes and "error.type" not in attributes
    assert span_name(event) == "chat anthropic.claude-3-5-haiku-v1"


def test_a_refusal_has_no_model_and_names_its_error() -> None:
    event = make_event(1, model_provider=None, model_name=None, model_requested="", input_tokens=None,
                       output_tokens=None, status_code=401, outcome="client_error",
                       error_type="token_expired", tenant_id=None, team=None)
    attributes = span_attributes(event, KINDS)
    assert attributes["error.type"] == "token_expired" and attributes["http.response.status_code"] == 401
    assert "gen_ai.provider.name" not in attributes and "gen_ai.usage.input_tokens" not in attributes
    assert span_name(event) == "chat" and not is_error(event)
    assert metric_attributes(event, KINDS) == {"gen_ai.operation.name": "chat", "aigw.latency_class":
                                               "interactive", "aigw.outcome": "client_error"}


def test_provider_names_follow_the_configured_kind() -> None:
    for provider, expected in [("openai-compat", "openai"), ("selfhosted", "aigw.simulated"),
                               ("unknown", "unknown")]:
        attributes = span_attributes(make_event(2, model_provider=provider), KINDS)
        assert attributes["gen_ai.provider.name"] == expected


def test_times_ids_and_errors() -> None:
    event = make_event(3, total_latency_ms=433.0)
    assert span_times(event) == (BASE_TS * 1000, BASE_TS * 1000 + 433_000_000)
    assert span_times(make_event(3, total_latency_ms=None)) == (BASE_TS * 1000, BASE_TS * 1000)
    assert trace_id_of(event) == 3
    assert trace_id_of(make_event(3, trace_id="not-hex-" * 4)) == 0
    assert trace_id_of(make_event(3, trace_id=None)) == 0
    assert is_error(make_event(4, status_code=504, outcome="upstream_error"))
    assert is_error(make_event(4, status_code=500, outcome="client_error"))
    assert not is_error(make_event(4, status_code=429, outcome="throttled"))


def test_metric_dimensions_stay_low_cardinality() -> None:
    dims = metric_attributes(make_event(5), KINDS)
    assert set(dims) == {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.response.model",
                         "aigw.tenant_id", "aigw.team", "aigw.latency_class", "aigw.outcome"}
