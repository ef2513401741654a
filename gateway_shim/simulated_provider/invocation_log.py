"""Bedrock's model-invocation log record as AWS documents it (``ModelInvocationLog``, with text delivery
off: no prompt or answer bodies) and where AWS delivers it.

The one builder behind both of aigw's simulated Bedrocks: ``aigw simulate``
(``gateway_shim/simulate/invocation_log_writer.py``) and the live ``aigw provider``
(``invocation_log_sink.py``). Objects are gzipped JSON lines under
``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/``.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Mapping

import orjson

_RECORD = (
    '{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"%%s","accountId":%(account)s,'
    '"identity":{"arn":%%s},"region":%(region)s,"requestId":"%%s","operation":"%%s","modelId":%%s,'
    '"input":{"inputContentType":"application/json","inputTokenCount":%%d%%s},'
    '"output":{"outputContentType":"application/json","outputTokenCount":%%d}%%s}'
)


class RecordFormat:
    """Record lines of one account and region. The constant parts are formatted once: the simulator
    writes millions of lines."""

    __slots__ = ("_template", "account_id", "region")

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self._template = _RECORD % {"account": json_text(account_id), "region": json_text(region)}

    def line(
        self,
        timestamp: str,
        arn: str,
        request_id: str,
        operation: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache: str = "",
        metadata: str = "",
    ) -> str:
        """One record. ``arn`` and ``model`` come JSON-encoded (``json_text``; callers cache them),
        ``cache`` from ``cache_counts`` and ``metadata`` from ``request_metadata``."""
        return self._template % (
            timestamp,
            arn,
            request_id,
            operation,
            model,
            input_tokens,
            cache,
            output_tokens,
            metadata,
        )


def json_text(value: str) -> str:
    """``value`` as a JSON string."""
    return orjson.dumps(value).decode()


def cache_counts(read: int | None, write: int | None) -> str:
    """The input's cache read and write counts, when the answer counted cached input apart."""
    if read is None and write is None:
        return ""
    return f',"cacheReadInputTokenCount":{read or 0},"cacheWriteInputTokenCount":{write or 0}'


def request_metadata(pairs: Mapping[str, str]) -> str:
    """The caller's Converse ``requestMetadata`` as Bedrock logs it (absent when there is none)."""
    if not pairs:
        return ""
    return f',"requestMetadata":{orjson.dumps(dict(pairs)).decode()}'


def timestamp(moment: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds, as the records carry it."""
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def object_key(account_id: str, region: str, hour: dt.datetime, stamp: dt.datetime, suffix: str) -> str:
    """Where AWS delivers an object of ``hour``'s records: its folder, then a name with the account,
    region, ``stamp`` (to the minute) and a ``suffix`` unique to the object."""
    return (
        f"AWSLogs/{account_id}/BedrockModelInvocationLogs/{region}/{hour:%Y/%m/%d/%H}/"
        f"{account_id}_BedrockModelInvocationLogs_{region}_{stamp:%Y%m%dT%H%M}Z_{suffix}.json.gz"
    )


def gzip_lines(lines: list[str]) -> bytes:
    """The object's bytes: one record a line, gzipped (no name or time in the header, so a rewrite of
    the same records is the same object)."""
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1, mtime=0)
