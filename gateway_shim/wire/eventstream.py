"""AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock ConverseStream sends it.

A message is: total length (u32), headers length (u32), CRC32 of those 8 bytes, the headers, the
payload, and a CRC32 of everything before it. Each header is name length (u8), name, value type
(u8, 7 = string), value length (u16), value.
"""

from __future__ import annotations

import struct
import zlib

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    value_length = struct.pack(">H", len(raw_value))
    return bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + value_length + raw_value


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    prelude = _PRELUDE.pack(12 + len(encoded) + len(payload) + 4, len(encoded))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    body = head + encoded + payload
    return body + _CRC.pack(zlib.crc32(body))


def encode_event(event_type: str, payload: bytes) -> bytes:
    """One event of a streamed operation, e.g. `contentBlockDelta` with its JSON payload."""
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, payload)


def encode_exception(exception_type: str, payload: bytes) -> bytes:
    """A modelled error inside an open stream, e.g. `throttlingException`."""
    return encode_message({":exception-type": exception_type, ":content-type": "application/json",
                           ":message-type": "exception"}, payload)
