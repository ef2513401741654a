"""A real, tiny filesystem for spool-full tests: a size-limited tmpfs mounted in the test's folder.

Why a mount rather than a fake: ENOSPC must come from the kernel at the writer's own ``write``,
``flush`` and ``fsync`` calls (and from creating temp files), which no cap inside the writer
reproduces. Mounting needs root (or CAP_SYS_ADMIN); without it the tests that need the mount skip
with that reason.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a ``size`` tmpfs at ``where`` for the block; unmounted (and emptied) afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the full-disk test (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file (deleted later to give the space back)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (65536, 4096, 1):
            for _ in range(100_000):
                try:
                    handle.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    return filler


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or p.stat().st_size == 0)
            and p.name != "LOCK"]
