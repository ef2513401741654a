"""The lake's ``quarantine/`` prefix: copies of objects that cannot be trusted, each with a reason file.

The pipeline moves a bad event object there; the gateway's budget seeding, which must not delete
lake objects, copies one there when it skips it. Either way ``quarantine/<path>`` holds the bytes and
``quarantine/<path>.reason.txt`` says why.
"""

from __future__ import annotations

from gateway_shim.telemetry.layout import QUARANTINE_REASON_SUFFIX, quarantine_copy_path
from gateway_shim.telemetry.storage import LakeLocation


def copy_to_quarantine(lake: LakeLocation, relative_path: str, reason: str) -> str:
    """Copy an object to ``quarantine/<its path>`` beside ``<path>.reason.txt``; returns the copy's path."""
    target = quarantine_copy_path(relative_path)
    lake.write_bytes(target, lake.read_bytes(relative_path))
    lake.write_bytes(f"{target}{QUARANTINE_REASON_SUFFIX}", f"{relative_path}: {reason}\n".encode())
    return target
