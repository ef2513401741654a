"""The warehouse's SQL lives in ``analytics/sql/*.sql`` so analysts can read and reuse it; this loads it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")


@cache
def load_sql(name: str) -> str:
    """The text of ``analytics/sql/<name>.sql``; values are bound as ``$name`` parameters, never pasted."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")
