"""A recording upstream: the simulated provider behind a wrapper that stores every request it receives
(path, headers, body), so a test compares what the application sent with what the provider got.

It runs in the test process on its own thread and loop (the gateway under test is a subprocess).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn

from gateway_shim.simulated_provider.server import ProviderApp
from gateway_shim.simulated_provider.simulated_model import SimulatedModel
from tests.helpers import LOCALHOST

Message = dict[str, Any]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Recorder:
    """ASGI wrapper: reads the whole request, stores it, then lets the simulated provider answer."""

    def __init__(self, app: ProviderApp) -> None:
        self.app = app
        self._requests: list[Received] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self._requests.append(Received(scope["path"], headers, body))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def requests(self, path_part: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self._requests if path_part in r.path and not r.path.startswith("/_control")]

    def last(self, path_part: str = "") -> Received:
        found = self.requests(path_part)
        assert found, f"the upstream received no request on a path with {path_part!r}"
        return found[-1]


@dataclass
class RecordingUpstream:
    recorder: Recorder
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"


@contextmanager
def recording_upstream(seed: int = 3, timeout_s: float = 10.0) -> Iterator[RecordingUpstream]:
    recorder = Recorder(ProviderApp(SimulatedModel(seed=seed), time_scale=0.0))
    config = uvicorn.Config(
        recorder,
        host=LOCALHOST,
        port=0,
        loop="asyncio",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="recording-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the recording upstream did not start")
        time.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield RecordingUpstream(recorder, port)
    finally:
        server.should_exit = True
        thread.join(timeout_s)
