"""OpenAI-style error JSON: ``{"error": {"type", "code", "message"}}``, the one error shape of the gateway.

The ``type`` follows the status (what the OpenAI SDK maps to its exception classes); the ``code``
names the specific problem so a client can branch on it; the message is for a person.
"""

from __future__ import annotations

import orjson

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
    500: "api_error",
    502: "upstream_error",
    503: "upstream_error",
    504: "upstream_error",
}

# What a boto3 client sees in `x-amzn-ErrorType` (botocore raises ClientError with this code).
AWS_ERROR_CODES: dict[int, str] = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    429: "ThrottlingException",
    502: "ModelErrorException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}


class ApiError(Exception):
    """A request the gateway refuses before policy runs (malformed, too large, unknown path)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def type(self) -> str:
        return error_type(self.status)


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_json(type_: str, code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"type": type_, "code": code, "message": message}})


def converse_error_json(type_: str, code: str, message: str) -> bytes:
    """The same error, plus the top-level ``message`` botocore reads into ClientError."""
    return orjson.dumps({"message": message, "error": {"type": type_, "code": code, "message": message}})


def retry_after_header(seconds: float | None) -> list[tuple[str, str]]:
    """``Retry-After`` in whole seconds (at least 1), as HTTP requires."""
    if seconds is None:
        return []
    return [("retry-after", str(max(1, int(seconds + 0.999))))]
