from __future__ import annotations

from gateway_shim.config.diff import Change, changed_keys, diff_documents


def test_nested_changes_are_reported_by_key_path() -> None:
    before = {"a": {"b": 1, "c": [1, 2]}, "gone": True}
    after = {"a": {"b": 2, "c": [1, 2], "d": "new"}}
    assert diff_documents(before, after) == [
        Change("changed", "a.b", 1, 2),
        Change("added", "a.d", after="new"),
        Change("removed", "gone", before=True),
    ]


def test_identical_documents_have_no_changes() -> None:
    assert diff_documents({"x": [1, {"y": 2}]}, {"x": [1, {"y": 2}]}) == []


def test_changed_keys_are_the_sorted_paths_of_every_change() -> None:
    before = {"tenants": {"acme": {"budget": 10, "apps": ["a"]}}, "lanes": {"batch": {"slo": 1}}}
    after = {"tenants": {"acme": {"budget": 20, "apps": ["a", "b"]}, "new": {"budget": 1}}, "lanes": {}}
    assert changed_keys(before, after) == [
        "lanes.batch",
        "tenants.acme.apps",
        "tenants.acme.budget",
        "tenants.new",
    ]
    assert changed_keys(after, after) == []
