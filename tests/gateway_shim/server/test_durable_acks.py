"""``DurableAcks``: every confirmed response is durable, and the spooler is asked once per commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway_shim.server.durable_acks import DurableAcks
from gateway_shim.telemetry.lake_writer import LakeWriter
from tests.gateway_shim.telemetry.events import make_event


def test_concurrent_responses_share_commits_and_ask_the_spooler_once_each(tmp_path: Path) -> None:
    writer = LakeWriter(str(tmp_path / "lake"), "gw-acks", spool_dir=tmp_path / "spool").start()
    asks = 0
    commit_soon = writer.commit_soon

    def counted() -> None:
        nonlocal asks
        asks += 1
        commit_soon()

    writer.commit_soon = counted
    reports: list[int] = []
    writer.commits.subscribe(lambda last, _lost: reports.append(last))

    async def run() -> list[bool]:
        acks = DurableAcks(writer)

        async def respond(i: int) -> bool:
            acks.emit(make_event(i))
            return await acks.confirm()

        results: list[bool] = []
        for round_no in range(20):
            results += await asyncio.gather(*(respond(round_no * 10 + i) for i in range(10)))
        return results

    try:
        results = asyncio.run(run())
    finally:
        assert writer.close(timeout=10)
    assert results == [True] * 200
    assert writer.stats()["durable"] == 200
    # one ask per commit the responses waited for, not one per response (200 before the change)
    assert asks <= len(reports) and asks <= 40, (asks, len(reports))
