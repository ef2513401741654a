"""An unmodified boto3 `bedrock-runtime` client against the simulated provider's Converse endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gateway_shim.simulated_provider.server import BackgroundProvider, background_provider
from tests.gateway_shim.simulated_provider.conftest import control
from tests.gateway_shim.tls_cert import self_signed_loopback_cert

MODEL = "anthropic.claude-3-5-haiku-v1"
MESSAGES = [{"role": "user", "content": [{"text": "Classify this ticket: my card was charged twice."}]}]


@pytest.fixture(scope="module")
def tls_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundProvider, Path]]:
    cert, key = self_signed_loopback_cert(tmp_path_factory.mktemp("tls"))
    with background_provider(seed=1234, ssl_certfile=str(cert), ssl_keyfile=str(key)) as running:
        yield running, cert


@pytest.fixture(scope="module", params=["sigv4", "bearer"])
def bedrock(request: pytest.FixtureRequest, provider: BackgroundProvider) -> Iterator[Any]:
    """A client with dummy SigV4 credentials over http, or with a Bedrock API key
    (AWS_BEARER_TOKEN_BEDROCK) over https, which botocore insists on for bearer tokens."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
        endpoint, verify = provider.url, None
        if request.param == "bearer":
            patch.setenv("AWS_BEARER_TOKEN_BEDROCK", "demo-acme")
            running, cert = request.getfixturevalue("tls_provider")
            endpoint, verify = running.url, str(cert)
        session = boto3.session.Session(region_name="us-east-1")
        client = session.client("bedrock-runtime", endpoint_url=endpoint, verify=verify,
                                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        yield client
        client.close()


def _provider_of(client: Any) -> str:
    return str(client.meta.endpoint_url)


def test_converse(bedrock: Any) -> None:
    reply = bedrock.converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "one word"}],
                             inferenceConfig={"maxTokens": 40})
    assert reply["output"]["message"]["role"] == "assistant"
    text = reply["output"]["message"]["content"][0]["text"]
    assert reply["usage"]["outputTokens"] == len(text.split()) <= 40
    assert reply["usage"]["totalTokens"] == reply["usage"]["inputTokens"] + reply["usage"]["outputTokens"]
    assert reply["stopReason"] in ("end_turn", "max_tokens")


def test_converse_stream_decodes_in_botocore(bedrock: Any) -> None:
    plain = bedrock.converse(modelId=MODEL, messages=MESSAGES)
    events = list(bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == plain["output"]["message"]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"] == plain["usage"]
    assert events[-2]["messageStop"]["stopReason"] == plain["stopReason"]


def test_model_ids_with_arn_characters(bedrock: Any) -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-v1"
    assert bedrock.converse(modelId=arn, messages=MESSAGES)["usage"]["outputTokens"] > 0


def test_throttling_is_a_throttling_exception(bedrock: Any) -> None:
    url = _provider_of(bedrock)
    control(url, "POST", {"model": MODEL, "throttle_rate": 1.0})
    with pytest.raises(ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=MESSAGES)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(ClientError, match="ThrottlingException"):
        bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    control(url, "DELETE")
    assert bedrock.converse(modelId=MODEL, messages=MESSAGES)["usage"]["outputTokens"] > 0


def test_outage_and_validation_errors(bedrock: Any) -> None:
    with pytest.raises(ClientError) as invalid:
        bedrock.converse(modelId=MODEL, messages=[], inferenceConfig={"maxTokens": 5})
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    control(_provider_of(bedrock), "POST", {"model": MODEL, "outage": True})
    try:
        with pytest.raises(ClientError) as down:
            bedrock.converse(modelId=MODEL, messages=MESSAGES)
        assert down.value.response["Error"]["Code"] == "ServiceUnavailableException"
    finally:
        control(_provider_of(bedrock), "DELETE")
