import os
import sys

import pytest

from gateway_shim.telemetry.background_thread import background_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_BATCH is Linux's")
def test_a_background_thread_runs_as_batch_work_and_leaves_the_caller_alone() -> None:
    seen: list[int] = []
    thread = background_thread(lambda: seen.append(os.sched_getscheduler(0)), "t")
    thread.start()
    thread.join(5)
    assert thread.daemon
    assert seen == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
