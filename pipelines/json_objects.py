"""JSON objects read from the lake (policy snapshots, load-test summaries), with errors naming the file.

The one parser for them; HTTP bodies have their own in the gateway (errors as 400 responses).
"""

from __future__ import annotations

import json
from typing import Any


def parse_lake_json(relative_path: str, text: str) -> dict[str, Any]:
    """The object in ``text``; ``ValueError`` naming the file when it is not JSON or not an object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{relative_path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{relative_path}: expected a JSON object")
    return data
