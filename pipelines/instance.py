"""The Dagster instance pipeline runs record into, so the Dagster UI (``dg dev``) shows them.

``$DAGSTER_HOME``, else ``./.aigw/dagster`` beside the demo's lake and warehouse: runs, materialisations
and check results persist there, and ``DAGSTER_HOME=$PWD/.aigw/dagster dg dev`` shows them. A new
instance folder gets a ``dagster.yaml`` with Dagster's telemetry and its first-run pop-ups off: aigw
runs offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_DAGSTER_HOME = ".aigw/dagster"
INSTANCE_SETTINGS = """\
# Written by aigw for a new instance: runs offline, so no telemetry and no first-run pop-ups.
telemetry:
  enabled: false
nux:
  enabled: false
"""


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` or ``./.aigw/dagster``, as an absolute path (what Dagster requires)."""
    return Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()


def prepared_home(home: Path | None = None) -> Path:
    """The instance folder, created with aigw's ``dagster.yaml`` when it has none yet."""
    folder = home or dagster_home()
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "dagster.yaml"
    if not settings.exists():
        settings.write_text(INSTANCE_SETTINGS)
    return folder


def persistent_instance() -> dg.DagsterInstance:
    """The instance at ``dagster_home()`` (SQLite storage in that folder)."""
    return dg.DagsterInstance.from_config(str(prepared_home()))
