"""Policy hot reload: SIGHUP, or the file changing on disk, swaps in a new validated policy.

The watch polls the file's (mtime, size) every ``poll_s`` and reads it only when they moved; a read
whose sha256 equals the last one is not a change (a ``touch``). SIGHUP reads it whatever the stat says.
A new document is parsed and validated off the event loop, then ``apply`` swaps it in on the loop,
between two requests (nothing awaits in between). A document that fails keeps the old policy
serving: the error (file, line, key) is logged once per distinct content and shown by ``/healthz``
and ``/metrics`` until a good document replaces it. docs/gateway.md, "Policy reload".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_shim.config.loader import ConfigError, parse_config
from gateway_shim.config.models import Config

log = logging.getLogger("aigw.server")

Apply = Callable[[Config], None]
"""Swap the running policy for this one; raises ``ReloadRefused`` when it cannot be applied live."""


class ReloadRefused(ValueError):
    """A valid document this process cannot apply without a restart; the message says why."""


class PolicyReloader:
    """Watches one policy file; ``run`` is the poll loop, ``trigger`` the SIGHUP handler."""

    def __init__(self, path: Path, current: Config, apply: Apply, *, poll_s: float = 1.0,
                 snapshot: Callable[[Config], None] | None = None) -> None:
        self.path = path
        self.poll_s = poll_s
        self._apply = apply
        self._snapshot = snapshot
        self.version = current.policy_version
        self.error: str | None = None
        self.reloads = 0
        self.failures = 0
        self.loaded_at = time.time()
        self._stat = _stat(path)
        self._digest = _digest(path)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Poll until cancelled (the server cancels it at shutdown)."""
        while True:
            await asyncio.sleep(self.poll_s)
            await self.check(force=False)

    def trigger(self) -> None:
        """SIGHUP: read the file now, whatever its mtime says."""
        log.warning("SIGHUP: reloading the policy from %s", self.path)
        task = asyncio.get_running_loop().create_task(self.check(force=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, *, force: bool) -> None:
        async with self._lock:
            stat = _stat(self.path)
            if not force and stat == self._stat:
                return
            self._stat = stat
            try:
                text = await asyncio.to_thread(self.path.read_bytes)
            except OSError as exc:
                self._fail(f"{self.path}: cannot read the policy: {exc.strerror or exc}")
                return
            digest = hashlib.sha256(text).hexdigest()
            if digest == self._digest and not force:
                return
            self._digest = digest
            try:
                config = await asyncio.to_thread(parse_config, text.decode("utf-8", "replace"),
                                                 str(self.path))
            except ConfigError as exc:
                self._fail(str(exc))
                return
            if config.policy_version == self.version:
                self._recovered()
                return
            try:
                self._apply(config)
            except ReloadRefused as exc:
                self._fail(f"{self.path}: {exc}")
                return
            except Exception as exc:  # a document the core cannot build from: keep the old one serving
                log.exception("applying the policy from %s failed", self.path)
                self._fail(f"{self.path}: cannot apply: {type(exc).__name__}: {exc}")
                return
            previous, self.version = self.version, config.policy_version
            self.reloads += 1
            self.loaded_at = time.time()
            self._recovered()
            print(f"aigw serve: policy reloaded from {self.path}: {previous} -> {self.version}",
                  file=sys.stderr, flush=True)
            if self._snapshot is not None:
                await asyncio.to_thread(self._snapshot, config)

    def _fail(self, message: str) -> None:
        self.failures += 1
        if message != self.error:
            log.error("policy reload failed; still serving policy %s: %s", self.version, message)
        self.error = message

    def _recovered(self) -> None:
        if self.error is not None:
            log.warning("policy file %s is valid again (policy %s)", self.path, self.version)
        self.error = None

    def health(self) -> dict[str, Any]:
        """For ``/healthz``: the file, and the error that keeps its latest content from serving."""
        return {"policy_file": str(self.path), "policy_reload_error": self.error}

    def gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        return {
            "aigw_policy_info": [({"version": self.version}, 1.0)],
            "aigw_policy_reload_ok": [({}, 0.0 if self.error else 1.0)],
            "aigw_policy_reloads_total": [({}, float(self.reloads))],
            "aigw_policy_reload_failures_total": [({}, float(self.failures))],
            "aigw_policy_loaded_timestamp_seconds": [({}, round(self.loaded_at, 3))],
        }


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
