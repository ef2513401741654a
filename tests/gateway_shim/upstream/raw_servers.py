"""Tiny misbehaving HTTP servers (asyncio streams) for client tests."""

from __future__ import annotations

import asyncio


async def raw_server(reply: bytes, *, close_after: bool) -> tuple[asyncio.Server, list[int]]:
    """A server that answers every request with `reply`, counting connections."""
    connections = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                await reader.readexactly(length)
                writer.write(reply)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, connections


async def stalling_server(chunks: list[bytes], *, then_close: bool) -> asyncio.Server:
    """Answers with a chunked 200, sends `chunks`, then either closes mid-body or stalls."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for chunk in chunks:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            if not then_close:
                await reader.read()  # stall until the client gives up and closes
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)
