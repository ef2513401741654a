"""A recording upstream: a plain HTTP proxy in front of the simulated provider that keeps every
request it forwards (method, path, headers, body), so a test can compare what the application sent
the gateway with what the provider got, and check the outgoing request against botocore's model."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import LOCALHOST

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingProxy:
    port: int
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def since(self, count: int) -> list[Recorded]:
        """The requests recorded after the first ``count``."""
        with self.lock:
            return list(self.requests[count:])

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def recording_proxy(upstream_port: int) -> Iterator[RecordingProxy]:
    """Forward to ``127.0.0.1:upstream_port``, buffering each answer whole (streams included)."""
    proxy = RecordingProxy(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with proxy.lock:
                proxy.requests.append(Recorded(self.command, self.path, headers, body))
            upstream = http.client.HTTPConnection(LOCALHOST, upstream_port, timeout=30)
            try:
                upstream.request(self.command, self.path, body=body,
                                 headers={k: v for k, v in headers.items() if k not in HOP_BY_HOP})
                response = upstream.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                upstream.close()

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
    server.daemon_threads = True
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
