"""Acknowledged means durable: a kill -9 right after a burst loses no request that got its 200.

The full 20 rounds of 400 requests is ``benchmarks/kill9_durability.py`` (figure in docs/lake.md);
this test runs a few rounds so it fits the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from gateway_shim.telemetry.spool import read_segment, segment_files
from tests.gateway_shim.server.native_stack import AWS_ENV, CLAUDE, OPENAI_EMBEDDING, native_config
from tests.gateway_shim.server.stack import (
    TEST_CONFIG,
    ProviderProcess,
    call,
    chat,
    start_gateway,
    traceparent,
)
from tests.gateway_shim.telemetry.tiny_disk import fill, temp_files, tiny_disk

ROUNDS = 3
BURST = 400


def _recorded_traces(lake: Path, spool: Path) -> set[str]:
    """Every trace id in the spool's segments (what a restart replays) and in the lake's files."""
    traces: set[str] = set()
    for segments in spool.rglob("segments"):
        for segment in segment_files(segments):
            traces.update(read_segment(segment).column("trace_id").to_pylist())
    events = lake / "events" / "v1"
    if any(events.rglob("*.parquet")):
        table = ds.dataset(str(events), format="parquet", partitioning="hive").to_table(columns=["trace_id"])
        traces.update(table.column("trace_id").to_pylist())
    return traces


@pytest.mark.slow
def test_kill_9_after_a_burst_loses_no_acknowledged_request(tmp_path: Path,
                                                            provider: ProviderProcess) -> None:
    acknowledged: set[str] = set()
    for round_no in range(ROUNDS):
        gateway = start_gateway(tmp_path, provider, gateway_id="durable-gw")

        def send(_: int, url: str = gateway.url) -> str | None:
            trace = uuid.uuid4().hex
            answer = call(f"{url}/v1/chat/completions", chat("durable?"), headers=traceparent(trace))
            return trace if answer.status == 200 else None

        with ThreadPoolExecutor(max_workers=32) as pool:
            traces = [t for t in pool.map(send, range(BURST)) if t is not None]
        os.kill(gateway.process.pid, signal.SIGKILL)
        gateway.process.wait(timeout=10)
        assert len(traces) == BURST, f"round {round_no}: only {len(traces)} of {BURST} answered 200"
        acknowledged.update(traces)
    missing = acknowledged - _recorded_traces(tmp_path / "lake", tmp_path / "spool")
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests lost by kill -9"


def _native_body(i: int) -> tuple[str, dict[str, object]]:
    """An embeddings or an Anthropic Messages request (the native doors), alternately."""
    if i % 2:
        return "/v1/embeddings", {"model": OPENAI_EMBEDDING, "input": f"durable {i}?"}
    return "/v1/messages", {"model": CLAUDE, "max_tokens": 16,
                            "messages": [{"role": "user", "content": f"durable {i}?"}]}


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_native_door_request(tmp_path: Path, provider: ProviderProcess) -> None:
    """The native doors answer a 2xx only once its event is durable, as chat does."""
    gateway = start_gateway(tmp_path, provider, gateway_id="durable-native-gw", config_text=native_config(),
                            env=AWS_ENV)

    def send(i: int, url: str = gateway.url) -> str | None:
        trace = uuid.uuid4().hex
        path, body = _native_body(i)
        answer = call(f"{url}{path}", body, headers=traceparent(trace))
        return trace if answer.status == 200 else None

    with ThreadPoolExecutor(max_workers=16) as pool:
        traces = [t for t in pool.map(send, range(BURST // 2)) if t is not None]
    os.kill(gateway.process.pid, signal.SIGKILL)
    gateway.process.wait(timeout=10)
    assert len(traces) == BURST // 2, f"only {len(traces)} of {BURST // 2} answered 200"
    missing = set(traces) - _recorded_traces(tmp_path / "lake", tmp_path / "spool")
    assert not missing, f"{len(missing)} of {len(traces)} acknowledged native requests lost by kill -9"


def test_sighup_reloads_the_policy_and_never_stops_the_gateway(tmp_path: Path,
                                                               provider: ProviderProcess) -> None:
    gateway = start_gateway(tmp_path, provider, gateway_id="hup-gw")
    try:
        gateway.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert gateway.process.poll() is None, "SIGHUP must not kill the gateway"
        assert call(f"{gateway.url}/v1/chat/completions", chat("still there?")).status == 200
    finally:
        assert gateway.stop() == 0
    text = gateway.log.read_text()
    assert "SIGHUP: reloading the policy from" in text
    assert text.index("SIGHUP") < text.index("aigw serve: draining")  # not a shutdown


def test_a_second_gateway_on_a_locked_spool_says_so_in_one_line(tmp_path: Path,
                                                                 provider: ProviderProcess) -> None:
    first = start_gateway(tmp_path / "first", provider, gateway_id="locked-gw")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "aigw", "serve", "--config", str(tmp_path / "first" / "aigw.yaml"),
             "--port", "0", "--admin-port", "0", "--lake", first.lake_url, "--gateway-id", "locked-gw"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "AIGW_SPOOL": str(tmp_path / "first" / "spool")})
    finally:
        first.stop()
    assert second.returncode != 0
    assert "Traceback" not in second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "in use by another lake writer" in errors[0], second.stderr


REFUSE_CONFIG = TEST_CONFIG.read_text().replace("  default_sensitivity: internal\n",
                                                "  default_sensitivity: internal\n  on_spool_full: refuse\n")


def test_a_full_spool_disk_with_refuse_answers_503_never_a_silent_200(tmp_path: Path,
                                                                      provider: ProviderProcess) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        gateway = start_gateway(tmp_path, provider, gateway_id="refuse-gw", config_text=REFUSE_CONFIG,
                                env={"AIGW_SPOOL": str(disk)})
        try:
            url = f"{gateway.url}/v1/chat/completions"
            assert call(url, chat("before")).status == 200
            filler = fill(disk)
            traces = [uuid.uuid4().hex for _ in range(10)]
            full = [call(url, chat(f"full {i}"), headers=traceparent(t)) for i, t in enumerate(traces)]
            statuses = [a.status for a in full]
            served = statuses.index(503) if 503 in statuses else len(statuses)
            # the journal's last page may still hold an event or two: those are durable, so 200
            assert statuses == [200] * served + [503] * (len(statuses) - served) and served <= 3, statuses
            assert all(a.json()["error"]["code"] == "telemetry_unavailable" for a in full[served:])
            filler.unlink()
            deadline = time.monotonic() + 10
            answer = call(url, chat("space is back"))
            while answer.status != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
                answer = call(url, chat("space is back"))
            assert answer.status == 200
            assert temp_files(disk) == []
        finally:
            gateway.stop()
        # read once the gateway has stopped: while it runs it may seal or upload a segment mid-read
        assert set(traces[:served]) <= _recorded_traces(tmp_path / "lake", disk)


def test_a_full_spool_disk_with_refuse_also_refuses_the_native_doors(tmp_path: Path,
                                                                     provider: ProviderProcess) -> None:
    config = yaml.safe_load(native_config())
    config["gateway"]["on_spool_full"] = "refuse"
    with tiny_disk(tmp_path / "disk") as disk:
        gateway = start_gateway(tmp_path, provider, gateway_id="refuse-native-gw",
                                config_text=yaml.safe_dump(config, sort_keys=False),
                                env={**AWS_ENV, "AIGW_SPOOL": str(disk)})
        try:
            embeddings, messages = (f"{gateway.url}{_native_body(i)[0]}" for i in (1, 0))
            assert call(embeddings, _native_body(1)[1]).status == 200
            assert call(messages, _native_body(0)[1]).status == 200
            filler = fill(disk)
            full_embeddings = call(embeddings, _native_body(1)[1])
            for _ in range(3):  # the journal's last page may still hold an event or two (durable: 200)
                if full_embeddings.status == 503:
                    break
                full_embeddings = call(embeddings, _native_body(1)[1])
            full_messages = call(messages, _native_body(0)[1])
            assert (full_embeddings.status, full_messages.status) == (503, 503)
            assert full_embeddings.json()["error"]["code"] == "telemetry_unavailable"
            assert full_messages.json()["type"] == "error"
            assert "record requests" in full_messages.json()["error"]["message"]
            filler.unlink()
            deadline = time.monotonic() + 10
            answer = call(embeddings, _native_body(1)[1])
            while answer.status != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
                answer = call(embeddings, _native_body(1)[1])
            assert answer.status == 200
        finally:
            gateway.stop()
