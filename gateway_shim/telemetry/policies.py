"""Policy snapshots: each policy version's full document, written once to ``policies/<version>.json``.

Events carry only ``policy_version``; the snapshot lets the pipelines (policy drift) and people see
what that version said. Written at most once per version: the first gateway to see it wins and
``first_seen`` records when.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import orjson

from gateway_shim.telemetry.layout import policy_snapshot_path
from gateway_shim.telemetry.storage import LakeLocation


class VersionedConfig(Protocol):
    @property
    def policy_version(self) -> str: ...

    def canonical_json(self) -> str: ...


def policy_snapshot(config: VersionedConfig, first_seen: dt.datetime) -> bytes:
    """``{"policy_version", "first_seen", "config": <the canonical document>}``."""
    return orjson.dumps(
        {
            "policy_version": config.policy_version,
            "first_seen": first_seen.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "config": orjson.loads(config.canonical_json()),
        },
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
    )


def write_policy_snapshot(lake: LakeLocation, config: VersionedConfig, now: dt.datetime | None = None) -> str:
    """Write the config's snapshot unless its version is already in the lake; returns its relative path."""
    path = policy_snapshot_path(config.policy_version)
    if not lake.exists(path):
        lake.write_bytes(path, policy_snapshot(config, now or dt.datetime.now(dt.UTC)))
    return path
