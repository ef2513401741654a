"""`aigw provider --invocation-logs`: the live simulated Bedrock logs every call it serves, in AWS's
format, as AWS delivers it. The calls come through a real `aigw serve` (its `bedrock` provider, boto3)
and straight from boto3 with a team's own credentials; the logs are read back with the pipelines'
own reader and, through `aigw pipeline`'s run, reconciled with the gateway's events."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from analytics.warehouse import connect_read_only
from gateway_shim.simulated_provider.invocation_log_sink import Caller, InvocationLogSink, ServedCall, caller
from gateway_shim.telemetry.storage import LakeLocation
from pipelines.invocation_log_records import read_log_object
from pipelines.invocation_logs import list_log_objects
from pipelines.run import run_pipeline
from tests.gateway_shim.server.stack import (
    TEST_CONFIG,
    call,
    chat,
    start_gateway,
    start_provider,
    traceparent,
)
from tests.helpers import MotoS3Server, wait_until

ACCOUNT = "111122223333"
HAIKU = "anthropic.claude-3-5-haiku-v1"
NOVA = "amazon.nova-lite-v1"
GATEWAY_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/aigw-gateway/aigw-provider"
RESEARCH_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/ds-research/aigw-provider"
ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 24,
    "messages": [{"role": "user", "content": "what changed in the ledger?"}],
}
AWS_ENV = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_SECRET_ACCESS_KEY": "testing"}


def _rows(source: LakeLocation) -> list[dict[str, Any]]:
    """Every record of the source, read by the pipelines' reader; no line may be malformed."""
    rows: list[dict[str, Any]] = []
    for found in list_log_objects(source):
        table, malformed = read_log_object(source.read_bytes(found.path))
        assert not malformed, (found.path, malformed)
        rows += table.to_pylist()
    return rows


def _bedrock(url: str, key: str, region: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """boto3 ``bedrock-runtime`` signing with access key ``key`` (the identity the provider logs)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
    )


def _direct_calls(client: Any) -> dict[str, dict[str, Any]]:
    """A team's calls straight to the provider, one per logged operation: request id -> what the
    answer said (operation, model, tokens)."""
    answers: dict[str, dict[str, Any]] = {}
    long_prompt = "the quarterly ledger lists every refund and chargeback by region " * 90
    converse = client.converse(
        modelId=HAIKU,
        messages=[{"role": "user", "content": [{"text": long_prompt}, {"cachePoint": {"type": "default"}}]}],
        inferenceConfig={"maxTokens": 40},
        requestMetadata={"notebook": "q3-review"},
    )
    usage = converse["usage"]
    assert usage["cacheReadInputTokens"] + usage["cacheWriteInputTokens"] > 0
    answers[converse["ResponseMetadata"]["RequestId"]] = {
        "operation": "Converse",
        "model": HAIKU,
        "input": usage["inputTokens"],
        "output": usage["outputTokens"],
        "cache_read": usage["cacheReadInputTokens"],
        "cache_write": usage["cacheWriteInputTokens"],
    }
    stream = client.converse_stream(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    end = list(stream["stream"])[-1]["metadata"]["usage"]
    answers[stream["ResponseMetadata"]["RequestId"]] = {
        "operation": "ConverseStream",
        "model": NOVA,
        "input": end["inputTokens"],
        "output": end["outputTokens"],
    }
    invoke = client.invoke_model(modelId=HAIKU, body=json.dumps(ANTHROPIC_BODY))
    message = json.loads(invoke["body"].read())
    answers[invoke["ResponseMetadata"]["RequestId"]] = {
        "operation": "InvokeModel",
        "model": HAIKU,
        "input": message["usage"]["input_tokens"],
        "output": message["usage"]["output_tokens"],
    }
    streamed = client.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(ANTHROPIC_BODY))
    events = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"]]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    answers[streamed["ResponseMetadata"]["RequestId"]] = {
        "operation": "InvokeModelWithResponseStream",
        "model": HAIKU,
        "input": metrics["inputTokenCount"],
        "output": metrics["outputTokenCount"],
    }
    return answers


def _gateway_config(logs: Path) -> str:
    """The gateway tests' policy with its `bedrock` provider a real Bedrock client of the provider,
    the only default route, and the reconciliation sources: these logs, no bill."""
    doc = yaml.safe_load(TEST_CONFIG.read_text())
    doc["providers"]["bedrock"].update(kind="bedrock", region="us-east-1")
    doc["routes"]["default"]["targets"] = [f"bedrock/{HAIKU}"]
    doc["identities"] = {f"arn:aws:sts::{ACCOUNT}:assumed-role/ds-research/*": {"team": "research"}}
    doc["reconciliation"] = {
        "invocation_logs": str(logs),
        "billing": str(logs.parent / "no-bill"),
        "account_id": ACCOUNT,
        "providers": ["bedrock"],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.slow
def test_every_bedrock_call_served_through_the_gateway_or_not_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "invocation-logs"
    provider = start_provider(tmp_path, time_scale=0, args=("--invocation-logs", str(logs)))
    try:
        gateway = start_gateway(
            tmp_path / "gateway",
            provider,
            config_text=_gateway_config(logs),
            env={**AWS_ENV, "AWS_ACCESS_KEY_ID": "aigw-gateway"},
        )
        try:
            traces = [f"{i:032x}" for i in range(0xA1, 0xA4)]
            for trace, stream in zip(traces, (False, True, False), strict=True):
                answer = call(
                    f"{gateway.url}/v1/chat/completions",
                    chat("summarise the dispute", stream=stream),
                    headers={**traceparent(trace), "x-aigw-workflow": "ai-search"},
                )
                assert answer.status == 200, answer.body
            direct = _direct_calls(_bedrock(provider.url, "ds-research", "us-west-2", monkeypatch))
            provider.fault(model="fault-model", outage=True)
            with pytest.raises(ClientError):  # answered with an error: nothing served, nothing logged
                _bedrock(provider.url, "ds-research", "us-west-2", monkeypatch).converse(
                    modelId="fault-model", messages=[{"role": "user", "content": [{"text": "x"}]}]
                )
        finally:
            assert gateway.stop() == 0
    finally:
        assert provider.stop() == 0  # SIGTERM: a clean stop that writes the records still buffered
    assert "invocation-log records" in provider.log.read_text()

    rows = _rows(LakeLocation.parse(str(logs), create=False))
    raw = [
        json.loads(line)
        for path in logs.rglob("*.json.gz")
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    assert [
        r["requestMetadata"] for r in raw if "requestMetadata" in r and "notebook" in r["requestMetadata"]
    ] == [{"notebook": "q3-review"}]  # the caller's own pairs, as sent
    events = [e for e in gateway.events() if e["model_provider"] == "bedrock"]
    assert {e["trace_id"] for e in events} == set(traces)
    assert len(rows) == len(events) + len(direct)
    assert len({r["request_id"] for r in rows}) == len(rows)
    by_trace = {r["trace_id"]: r for r in rows if r["trace_id"] is not None}
    assert set(by_trace) == set(traces)
    for event in events:
        record = by_trace[event["trace_id"]]
        assert (record["input_tokens"], record["output_tokens"]) == (
            event["input_tokens"],
            event["output_tokens"],
        )
        assert (record["tenant_id"], record["workflow"]) == ("acme", "ai-search")
        assert (record["identity_arn"], record["region"], record["account_id"]) == (
            GATEWAY_ARN,
            "us-east-1",
            ACCOUNT,
        )
        assert record["model_id"] == HAIKU and record["operation"] in {"Converse", "ConverseStream"}
    for request_id, said in direct.items():
        [record] = [r for r in rows if r["request_id"] == request_id]
        assert (record["operation"], record["model_id"]) == (said["operation"], said["model"])
        assert (record["input_tokens"], record["output_tokens"]) == (said["input"], said["output"])
        assert record["cache_read_input_tokens"] == said.get("cache_read")
        assert record["cache_write_input_tokens"] == said.get("cache_write")
        assert (record["identity_arn"], record["region"], record["trace_id"]) == (
            RESEARCH_ARN,
            "us-west-2",
            None,
        )

    warehouse = tmp_path / "warehouse.duckdb"
    outcome = run_pipeline(
        lake_url=gateway.lake_url,
        warehouse_path=str(warehouse),
        config_path=str(tmp_path / "gateway" / "aigw.yaml"),
    )
    assert outcome.success, outcome.failures
    with connect_read_only(warehouse) as connection:
        [reconciled] = connection.sql(
            "SELECT gateway_requests, logged_gateway_requests, gateway_input_tokens,"
            " logged_gateway_input_tokens, gateway_output_tokens, logged_gateway_output_tokens,"
            " shadow_requests, status"
            f" FROM marts.reconciliation_daily WHERE region = 'us-east-1' AND model = '{HAIKU}'"
        ).fetchall()
        shadow = connection.sql(
            "SELECT identity_arn, team, sum(requests) FROM marts.shadow_spend GROUP BY ALL"
        ).fetchall()
    gateway_in = sum(e["input_tokens"] for e in events)
    gateway_out = sum(e["output_tokens"] for e in events)
    assert reconciled[:6] == (len(events), len(events), gateway_in, gateway_in, gateway_out, gateway_out)
    assert reconciled[6] == 0 and reconciled[7] != "token_mismatch"
    assert shadow == [(RESEARCH_ARN, "research", len(direct))]


@pytest.mark.slow
def test_logs_go_to_s3_on_a_bounded_interval(
    s3_server: MotoS3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_server.make_bucket("aigw-provider-logs")
    provider = start_provider(
        tmp_path,
        time_scale=0,
        env=s3_server.env,
        args=(
            "--invocation-logs",
            f"{bucket}/bedrock",
            "--log-flush-s",
            "0.2",
            "--account-id",
            "444455556666",
        ),
    )
    source = LakeLocation.parse(f"{bucket}/bedrock", s3_server.env, create=False)
    try:
        client = _bedrock(provider.url, "ds-research", "eu-west-1", monkeypatch)
        first = client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "one"}]}])
        assert wait_until(lambda: len(_rows(source)) == 1, timeout=10)  # written while the provider runs
        second = client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "two"}]}])
    finally:
        assert provider.stop() == 0
    rows = _rows(source)
    ids = [answer["ResponseMetadata"]["RequestId"] for answer in (first, second)]
    assert sorted(r["request_id"] for r in rows) == sorted(ids)
    assert {(r["account_id"], r["region"]) for r in rows} == {("444455556666", "eu-west-1")}
    assert all(
        found.path.startswith("AWSLogs/444455556666/BedrockModelInvocationLogs/eu-west-1/")
        for found in list_log_objects(source)
    )


def test_without_the_option_the_provider_logs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = start_provider(tmp_path, time_scale=0)
    try:
        client = _bedrock(provider.url, "ds-research", "us-east-1", monkeypatch)
        answer = client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "hi"}]}])
        assert len(answer["ResponseMetadata"]["RequestId"]) == 36  # Bedrock's request id, logged or not
    finally:
        provider.stop()
    assert "invocation" not in provider.log.read_text()
    assert not list(tmp_path.rglob("*.json.gz"))


def _served(i: int, at: float = 1_796_000_000.0) -> ServedCall:
    return ServedCall(at + i, Caller(RESEARCH_ARN, "us-east-1"), f"req-{i}", "Converse", NOVA, 10 + i, 5)


def test_the_writer_wakes_once_enough_records_wait(tmp_path: Path) -> None:
    location = LakeLocation.parse(str(tmp_path / "logs"))
    sink = InvocationLogSink(location, flush_interval_s=3600, flush_records=3)
    try:
        for i in range(3):
            sink.log(_served(i))
        assert wait_until(lambda: sink.records == 3, timeout=10)  # long before the hour-long interval
    finally:
        sink.close()
    assert sorted(r["request_id"] for r in _rows(location)) == ["req-0", "req-1", "req-2"]


def test_a_failed_write_keeps_its_records_for_the_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    location = LakeLocation.parse(str(tmp_path / "logs"))
    blocker = tmp_path / "logs" / "AWSLogs"
    blocker.write_text("not a folder")  # every write fails while it is there
    sink = InvocationLogSink(location, flush_interval_s=3600)
    try:
        for i in range(3):
            sink.log(_served(i))
        sink.flush()
        assert (sink.records, sink.objects) == (0, 0)
        assert "3 records kept for the next try" in capsys.readouterr().err
        blocker.unlink()
        sink.log(_served(3))
        sink.flush()
        assert (sink.records, sink.objects) == (4, 1)
    finally:
        sink.close()
    rows = sorted(_rows(location), key=lambda r: r["request_id"])
    assert [(r["request_id"], r["input_tokens"]) for r in rows] == [(f"req-{i}", 10 + i) for i in range(4)]


def test_close_writes_what_is_still_buffered(tmp_path: Path) -> None:
    location = LakeLocation.parse(str(tmp_path / "logs"))
    sink = InvocationLogSink(location, flush_interval_s=3600, flush_records=10_000)
    hour = 3600 * 498_888  # two hours apart: two folders, two objects
    sink.log(_served(0, at=hour + 10.0))
    sink.log(_served(1, at=hour + 3600 + 10.0))
    time.sleep(0.05)
    assert sink.records == 0  # nothing due yet
    sink.close()
    assert (sink.records, sink.objects) == (2, 2)
    assert len(list_log_objects(location)) == 2


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261207/eu-central-1/bedrock/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/AKIAEXAMPLE/aigw-provider", "eu-central-1"),
        ),
        ("Bearer bedrock-api-key-xyz", Caller(f"arn:aws:iam::{ACCOUNT}:user/BedrockAPIKey", "us-east-1")),
        ("", Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/anonymous/aigw-provider", "us-east-1")),
    ],
)
def test_the_caller_is_the_credential_the_request_was_signed_with(
    authorization: str, expected: Caller
) -> None:
    assert caller(authorization, ACCOUNT) == expected
