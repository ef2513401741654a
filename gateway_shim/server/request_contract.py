"""The request contract: auth, trace id and the ``x-aigw-*`` fields, from headers or body metadata.

Headers win over metadata (a proxy or SDK middleware that sets headers knows best). Values are
checked for type and length here; whether a lane or sensitivity exists is the core's decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway_shim.server.errors import ApiError
from gateway_shim.wire.trace_context import new_trace_id

MAX_FIELD_CHARS = 256

# header suffix / metadata key -> RequestContext attribute
CONTRACT_FIELDS: dict[str, str] = {
    "workflow": "workflow",
    "app": "app_id",
    "user": "user_id",
    "sensitivity": "sensitivity",
    "latency_class": "latency_class",
    "budget_class": "budget_class",
    "prompt_version": "prompt_version",
    "retrieval_ms": "retrieval_ms",
    "run_id": "run_id",
}
_HEADERS = {f"x-aigw-{key.replace('_', '-')}": key for key in CONTRACT_FIELDS}
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The API key from ``Authorization: Bearer <key>``; None when absent or another scheme."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def trace_id(headers: Mapping[str, str]) -> str:
    """The W3C trace id from ``traceparent`` when valid, else a fresh random one."""
    value = headers.get("traceparent")
    if value:
        match = _TRACEPARENT.match(value.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    return new_trace_id()


def contract(headers: Mapping[str, str], metadata: object) -> dict[str, Any]:
    """The contract fields as RequestContext keyword arguments (only those given)."""
    fields: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise ApiError(400, "invalid_metadata", "'metadata' must be an object of strings")
        for key, attribute in CONTRACT_FIELDS.items():
            if key in metadata:
                fields[attribute] = _value(key, metadata[key], f"metadata.{key}")
    for header, key in _HEADERS.items():
        raw = headers.get(header)
        if raw is not None:
            fields[CONTRACT_FIELDS[key]] = _value(key, raw.strip(), header)
    return fields


def _value(key: str, value: object, where: str) -> str | float | None:
    if value is None:
        return None
    if key == "retrieval_ms":
        return _milliseconds(value, where)
    if not isinstance(value, str):
        raise ApiError(400, "invalid_contract", f"{where} must be a string")
    if len(value) > MAX_FIELD_CHARS:
        raise ApiError(400, "invalid_contract", f"{where} is longer than {MAX_FIELD_CHARS} characters")
    return value or None


def _milliseconds(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, "invalid_contract", f"{where} must be a number of milliseconds")
    try:
        number = float(value)
    except ValueError:
        raise ApiError(400, "invalid_contract", f"{where} must be a number of milliseconds") from None
    if not 0 <= number < 86_400_000:
        raise ApiError(400, "invalid_contract", f"{where} must be between 0 and 86400000")
    return number
