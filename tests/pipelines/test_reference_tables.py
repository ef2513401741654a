"""Policy snapshots read from the lake, and the policy changes recorded between them."""

from __future__ import annotations

import datetime as dt

from pipelines.reference_tables import PolicySnapshot, policy_changes_table, policy_document


def test_policy_document_unwraps_the_snapshot() -> None:
    assert policy_document({"policy_version": "v", "first_seen": "t", "config": {"a": 1}}) == {"a": 1}
    assert policy_document({"policy_version": "v", "first_seen": "t", "a": 1}) == {"a": 1}


def test_policy_changes_name_the_keys_that_changed_since_the_previous_snapshot() -> None:
    day = dt.datetime(2026, 11, 1)
    first = PolicySnapshot("v1", day, {"lanes": {"batch": {"slo": 1}}, "pricing": {"m": 1}}, "snapshot")
    second = PolicySnapshot("v2", day + dt.timedelta(days=1), {"lanes": {"batch": {"slo": 2}}}, "snapshot")
    rows = policy_changes_table([first, second]).to_pylist()
    assert [(r["policy_version"], r["previous_version"], r["changed_keys"]) for r in rows] == [
        ("v1", None, []),
        ("v2", "v1", ["lanes.batch.slo", "pricing"]),
    ]
