"""Run documented commands as printed: bash with the project's virtualenv activated, in a sandbox folder,
inside a private network namespace so that the documented fixed ports are free and stay private."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Brings the namespace's loopback up, then holds the namespace open until its stdin closes.
_HOLDER = """
import fcntl, socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
request = struct.pack("16sh", b"lo", 0)
flags = struct.unpack("16sh", fcntl.ioctl(sock, 0x8913, request))[1]
fcntl.ioctl(sock, 0x8914, struct.pack("16sh", b"lo", flags | 1))
print("ready", flush=True)
sys.stdin.read()
"""
_WAIT_FOR_PORT = """
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
"""


STOP_TIMEOUT_S = 45.0
"""A stopped server's processes must all be gone by then (dg dev stops a webserver, a daemon and a code
server one after another: seconds when idle, tens of seconds on a busy machine)."""


@dataclass
class Finished:
    returncode: int
    output: str


@dataclass
class Namespace:
    """A private network namespace with its own loopback; commands run in it through ``nsenter``."""

    env: dict[str, str]
    holder: subprocess.Popen[str] | None = None
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def __enter__(self) -> Namespace:
        self.holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", "--", sys.executable, "-c", _HOLDER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("could not create a private network namespace with `unshare --user --net`")
        return self

    def __exit__(self, *exc: object) -> None:
        for process, _ in self.started:
            _stop_group(process)
        assert self.holder is not None and self.holder.stdin is not None
        self.holder.stdin.close()
        self.holder.wait(timeout=10)
        if self.holder.stdout is not None:
            self.holder.stdout.close()

    def argv(self, script: str, cwd: Path) -> list[str]:
        assert self.holder is not None
        shell = f"cd {cwd} && source .venv/bin/activate && {script}"
        return ["nsenter", f"--target={self.holder.pid}", "--user", "--net", "--preserve-credentials",
                "--", "bash", "-c", shell]

    def run(self, text: str, cwd: Path, timeout: float) -> Finished:
        """Run one command to its end; its output is stdout and stderr together."""
        process = subprocess.Popen(self.argv(text, cwd), cwd=cwd, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            output, _ = process.communicate()
            return Finished(-1, output.decode(errors="replace") + f"\n[still running after {timeout:.0f} s]")
        except BaseException:  # the test's own timeout or Ctrl-C: leave no process behind
            _stop_group(process, timeout=5)
            process.communicate()
            raise
        return Finished(process.returncode, output.decode(errors="replace"))

    def start(self, text: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
        """Start a command that keeps running (its own process group); ``stop`` ends it."""
        with open(log, "wb") as out:
            process = subprocess.Popen(self.argv(text, cwd), cwd=cwd, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.started.append((process, log))
        return process

    def wait_for_port(self, port: int, timeout: float) -> bool:
        assert self.holder is not None
        argv = ["nsenter", f"--target={self.holder.pid}", "--user", "--net", "--preserve-credentials", "--",
                sys.executable, "-c", _WAIT_FOR_PORT, str(port), str(timeout)]
        return subprocess.run(argv, env=self.env, check=False, timeout=timeout + 10).returncode == 0

    def stop(self, process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> bool:
        """SIGTERM the command's process group; True when every process of it exited within ``timeout``."""
        self.started = [(p, log) for p, log in self.started if p is not process]
        return _stop_group(process, timeout)


def _group_alive(pgid: int) -> bool:
    """A process of the group still runs. Zombies do not count: an orphan whose parent shell has gone
    waits for the machine's init to reap it, and some container inits never do."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _stop_group(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = STOP_TIMEOUT_S
) -> bool:
    pgid = process.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        process.poll()
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        if not _group_alive(pgid):
            process.wait(timeout=10)  # our own child may be a zombie still: reap it
            return True
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
    process.wait(timeout=10)
    return False
