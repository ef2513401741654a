"""Helpers shared by the test suite: free ports, waiting for servers and conditions, moto S3 in a process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts a TCP connection; ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.1f}s") from exc
            time.sleep(0.05)


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds have passed (False): a readiness
    signal instead of a fixed sleep that hopes the other side got there."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


@dataclass
class MotoS3Server:
    """moto in server mode as a separate process on 127.0.0.1 (its log goes to ``log_path``).

    A separate process, not ``ThreadedMotoServer``: gevent (Locust) and in-process moto do not mix,
    and an outage test needs to stop and restart the server on the same port.
    """

    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port(LOCALHOST, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self.process.poll() is not None:  # someone else took the port; moto could not bind
            self.process = None
            raise RuntimeError(f"moto exited at start on port {self.port}; see {self.log_path}")

    def stop(self) -> None:
        """Stop the server (its buckets are lost: moto keeps state in memory)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (3+ characters) and return ``s3://name``."""
        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            endpoint_override=f"{LOCALHOST}:{self.port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        fs.create_dir(name)
        return f"s3://{name}"


@dataclass
class RedisServer:
    """A private ``redis-server`` on 127.0.0.1 (no persistence unless ``aof_dir`` is given).

    With ``aof_dir`` it appends every write to a file there, so a killed server restarted on the
    same port comes back with its data (as a production Redis with AOF would).
    """

    log_path: Path
    port: int = field(default_factory=free_port)
    aof_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        persistence = ["--appendonly", "no"] if self.aof_dir is None else [
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.aof_dir)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", LOCALHOST, "--save", "",
                 *persistence, "--protected-mode", "yes"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port(LOCALHOST, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self.process.poll() is not None:
            self.process = None
            raise RuntimeError(f"redis-server exited at start on port {self.port}; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed host would, without closing anything cleanly."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
