"""Say who holds the warehouse when DuckDB refuses to open it, and what to do about it.

DuckDB allows one read-write process or many read-only ones on a file, never both. A notebook that
opens the warehouse with ``duckdb.connect(path)`` (read-write by default) therefore locks every
reader out; DuckDB's error names the process, this turns it into one line with the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": '
    r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)"
)


def describe_lock_conflict(message: str) -> str | None:
    """One line naming the process that holds the file and the fix, or None when ``message`` is not
    DuckDB's lock conflict."""
    found = _CONFLICT.search(message)
    if found is None:
        return None
    pid = int(found["pid"])
    holder = _command_line(pid) or found["program"]
    return (f"{found['file']} is locked by another process: PID {pid} ({holder}) has it open read-write. "
            "Open it read-only there (duckdb.connect(path, read_only=True)) or close that connection, "
            "then retry.")


def _command_line(pid: int) -> str | None:
    """The process's command line as ``ps`` would show it (Linux ``/proc``), shortened; None if unknown."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    text = " ".join(" ".join(words).split())  # one line, whatever the arguments hold
    return text if len(text) <= 80 else text[:77] + "..."
