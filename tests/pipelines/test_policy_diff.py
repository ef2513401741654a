"""Which keys changed between two policy documents."""

from __future__ import annotations

from pipelines.policy_diff import changed_keys, policy_document


def test_changed_keys_are_dotted_paths_of_added_removed_and_changed_leaves() -> None:
    before = {"tenants": {"acme": {"budget": 10, "apps": ["a"]}}, "lanes": {"batch": {"slo": 1}}}
    after = {"tenants": {"acme": {"budget": 20, "apps": ["a", "b"]}, "new": {"budget": 1}}, "lanes": {}}
    assert changed_keys(before, after) == [
        "lanes",
        "lanes.batch.slo",
        "tenants.acme.apps",
        "tenants.acme.budget",
        "tenants.new.budget",
    ]
    assert changed_keys(after, after) == []


def test_policy_document_unwraps_the_snapshot() -> None:
    assert policy_document({"policy_version": "v", "first_seen": "t", "config": {"a": 1}}) == {"a": 1}
    assert policy_document({"policy_version": "v", "first_seen": "t", "a": 1}) == {"a": 1}
