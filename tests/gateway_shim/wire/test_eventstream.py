from __future__ import annotations

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from gateway_shim.wire.eventstream import encode_event, encode_exception


def test_botocore_decodes_our_frames() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_event("messageStart", b'{"role":"assistant"}')
                    + encode_exception("throttlingException", b'{"message":"slow down"}'))
    first, second = list(buffer)
    assert first.headers == {":event-type": "messageStart", ":content-type": "application/json",
                             ":message-type": "event"}
    assert first.payload == b'{"role":"assistant"}'
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "throttlingException"


def test_a_corrupted_frame_fails_botocores_checksum() -> None:
    frame = bytearray(encode_event("contentBlockDelta", b'{"delta":{"text":"hi"}}'))
    frame[-6] ^= 0xFF
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)
