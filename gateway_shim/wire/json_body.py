"""The one reader of a JSON object from bytes or text: decode it and require an object.

Every reader uses it and words the error for its own audience: the gateway's front doors as a 400
``invalid_json`` response ("the request body is …"), the simulated provider as its own 400, the pipelines
with the lake file or log line that held it.
"""

from __future__ import annotations

from typing import Any

import orjson


class NotAJsonObject(ValueError):
    """The message completes "<what> is …": ``empty; …``, ``not JSON: …`` or ``not a JSON object``."""


def json_object(data: bytes | str) -> dict[str, Any]:
    if not data:
        raise NotAJsonObject("empty; expected a JSON object")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise NotAJsonObject(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise NotAJsonObject("not a JSON object")
    return document
