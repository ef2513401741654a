"""JSON objects read from the lake (policy snapshots, load-test summaries), with errors naming the file.

The parsing itself is the project's one JSON-object reader, ``gateway_shim.wire.json_body``.
"""

from __future__ import annotations

from typing import Any

from gateway_shim.wire.json_body import NotAJsonObject, json_object


def parse_lake_json(relative_path: str, text: str) -> dict[str, Any]:
    """The object in ``text``; ``ValueError`` naming the file when it is not JSON or not an object."""
    try:
        return json_object(text)
    except NotAJsonObject as exc:
        raise ValueError(f"{relative_path}: {exc}") from None
