"""The lake writer against a real S3-compatible server (moto in server mode, its own process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pyarrow.dataset as ds
import pytest

from gateway_shim.telemetry.lake_writer import LakeWriter
from gateway_shim.telemetry.storage import LakeLocation
from tests.gateway_shim.telemetry.events import BASE_TS, HOUR_US, make_event
from tests.helpers import MotoS3Server, wait_until


def events_dataset(lake: LakeLocation) -> ds.Dataset:
    return ds.dataset(
        lake.path("events/v1"), filesystem=lake.filesystem, format="parquet", partitioning="hive"
    )


def event_ids(lake: LakeLocation) -> list[str]:
    return events_dataset(lake).to_table(columns=["event_id"]).column("event_id").to_pylist()


def test_write_and_read_back_through_s3(s3_server: MotoS3Server, tmp_path: Path) -> None:
    url = s3_server.make_bucket("lake-roundtrip")
    lake = LakeLocation.parse(f"{url}/aigw", env=s3_server.env)
    events = [make_event(i, BASE_TS + i * (2 * HOUR_US // 1000)) for i in range(1000)]
    with LakeWriter(lake, "gw-s3", spool_dir=tmp_path / "spool", max_rows=400) as writer:
        for event in events:
            writer.emit(event)
    stats = writer.stats()
    assert (stats["written"], stats["backlog"], stats["last_error"]) == (1000, 0, None)

    keys = [info.path.removeprefix(lake.root + "/") for info in lake.list_files("")]
    assert keys and all(k.startswith("events/v1/dt=2026-11-30/hour=0") for k in keys)
    assert all(k.endswith(".parquet") for k in keys), "no directory markers or temp objects"

    con = duckdb.connect()
    con.register("events", events_dataset(lake))
    counts = con.sql("SELECT hour, count(DISTINCT event_id) FROM events GROUP BY hour ORDER BY hour")
    assert [(int(h), n) for h, n in counts.fetchall()] == [(0, 500), (1, 500)]
    con.close()

    storage_options = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
        "aws_endpoint_url": s3_server.endpoint_url,
        "aws_allow_http": "true",
    }
    frame = pl.scan_parquet(
        f"{lake.url}/events/v1/**/*.parquet", storage_options=storage_options, hive_partitioning=True
    ).collect()
    assert frame.height == 1000 and frame["event_id"].n_unique() == 1000
    assert frame.filter(pl.col("event_id") == "evt-00000014")["guardrail_actions"].to_list() == [
        ["pii_redacted:email"]
    ]


def test_full_spool_drops_counts_and_records_a_gap(s3_server: MotoS3Server, tmp_path: Path) -> None:
    lake = LakeLocation.parse("s3://lake-not-yet/aigw", env=s3_server.env)  # no bucket: writes fail
    writer = LakeWriter(
        lake,
        "gw-cap",
        spool_dir=tmp_path / "spool",
        max_rows=500,
        spool_max_bytes=400_000,
        retry_base_s=0.05,
        retry_max_s=0.2,
    ).start()
    try:
        emitted = 0
        for _ in range(200):
            for _ in range(500):
                writer.emit(make_event(emitted, BASE_TS + emitted))
                emitted += 1
            time.sleep(0.02)
            if writer.stats()["dropped"] > 1000:
                break
        stats_settled = wait_until(
            lambda: (s := writer.stats())["durable"] + s["dropped"] == s["accepted"], timeout=10
        )
        assert stats_settled
        assert wait_until(lambda: writer.stats()["last_error"] is not None, timeout=10)
        during = writer.stats()
        assert during["dropped"] > 1000 and during["durable"] > 0 and during["accepted"] == emitted
        assert during["written"] == 0

        s3_server.make_bucket("lake-not-yet")
        assert writer.flush(timeout=30)
        after = writer.stats()
    finally:
        writer.close(timeout=10)
    assert after["written"] == during["durable"] and after["dropped"] == during["dropped"]
    assert len(set(event_ids(lake))) == after["written"]
    gap_files = lake.list_files("gaps")
    gaps = [orjson.loads(lake.read_bytes(f.path.removeprefix(lake.root + "/"))) for f in gap_files]
    assert len(gaps) == after["gaps_recorded"] >= 1
    assert sum(gap["dropped_events"] for gap in gaps) == after["dropped"]
    assert all(gap["reason"] == "spool_full" and gap["open"] is False for gap in gaps)
    assert all(gap["first_ts"] < gap["last_ts"] for gap in gaps)


@pytest.fixture
def outage_server(tmp_path: Path) -> Iterator[MotoS3Server]:
    server = MotoS3Server(log_path=tmp_path / "moto.log")
    server.start()
    yield server
    server.stop()


def test_s3_outage_then_every_event_arrives(outage_server: MotoS3Server, tmp_path: Path) -> None:
    url = outage_server.make_bucket("lake-outage")
    lake = LakeLocation.parse(url, env=outage_server.env)
    writer = LakeWriter(
        lake, "gw-out", spool_dir=tmp_path / "spool", max_rows=2000, retry_base_s=0.05, retry_max_s=0.5
    ).start()
    server_down = threading.Event()
    stop = threading.Event()
    emitted: list[str] = []

    def emit_steadily() -> None:
        """~10k events/s; at most 1,000 before the server is down, so no file can beat the outage."""
        i = 0
        while not stop.is_set() and i < 200_000:
            if i == 1000:
                server_down.wait(timeout=30)
            for _ in range(100):
                event = make_event(i, BASE_TS + i * 1000)
                writer.emit(event)
                emitted.append(event["event_id"])
                i += 1
            time.sleep(0.01)

    emitter = threading.Thread(target=emit_steadily)
    emitter.start()
    try:
        outage_server.stop()
        server_down.set()
        assert wait_until(lambda: writer.stats()["last_error"] is not None, timeout=10)
        assert wait_until(lambda: writer.stats()["backlog"] > 2000, timeout=30), writer.stats()
        during = writer.stats()
        assert during["written"] == 0 and during["backlog"] > 2000
        outage_server.start()
        outage_server.make_bucket("lake-outage")
        after_outage = len(emitted)
        assert wait_until(lambda: len(emitted) >= after_outage + 1000, timeout=30)  # traffic goes on
    finally:
        stop.set()
        emitter.join(timeout=10)
    drained = writer.flush(timeout=30)
    stats = writer.stats()
    writer.close(timeout=10)
    assert drained, stats
    assert stats["dropped"] == 0 and stats["written"] == len(emitted)
    assert sorted(event_ids(lake)) == sorted(emitted)
