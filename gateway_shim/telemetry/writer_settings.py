"""The lake writer's knobs: rotation, durability, the spool's cap and retrying."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriterSettings:
    """Rotation, durability and retry knobs; the defaults suit 1 to 5,000 events/s per gateway."""

    max_rows: int = 150_000
    """Seal a segment (and so cut its Parquet files) at this many events."""
    max_bytes: int = 64 * 2**20
    """... or at this many bytes of Arrow data (bounds the uploader's memory)."""
    max_age_s: float = 60.0
    """... or this long after its first event: how stale the lake may be at low traffic."""
    sync_interval_s: float = 0.05
    """How often new events are appended to the spool and flushed to disk when nobody waits."""
    commit_interval_s: float = 0.001
    """The shortest time between two commits when callers wait for one (``commit_soon``): events
    arriving meanwhile share the next fsync (a group commit)."""
    fsync: bool = True
    """fsync the spool too (survives power loss, not only process death)."""
    spool_max_bytes: int = 2 * 2**30
    """Spool size cap; beyond it new events are dropped, counted and recorded as a gap."""
    max_pending: int = 1_000_000
    """Events waiting for the spooler; beyond it ``emit`` drops (only if the spooler is stuck)."""
    retry_base_s: float = 0.25
    retry_max_s: float = 15.0
    close_timeout_s: float = 30.0
    """What ``flush``/``close`` wait by default for the lake before leaving the rest in the spool."""
