"""A small client for the simulated provider's control API (``/_control/faults``, ``/_control/stats``).

Standard library only (urllib): it runs inside Locust (gevent-patched sockets) and in the harness,
and importing ``requests`` before Locust breaks gevent on this machine. Loopback only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ControlError(RuntimeError):
    """The provider refused or could not be reached; the message says which and why."""


class ProviderControl:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        host = urlsplit(base_url).hostname
        if host not in LOOPBACK:
            raise ControlError(f"provider control URL {base_url!r} is not a loopback address")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def inject(self, model: str, **fault: Any) -> dict[str, Any]:
        """``POST /_control/faults``: e.g. ``inject("m", outage=True)`` or ``inject("m", error_rate=0.5)``."""
        return self._call("POST", "/_control/faults", {"model": model, **fault})

    def clear(self, model: str | None = None) -> dict[str, Any]:
        """``DELETE /_control/faults`` for one model, or all faults."""
        query = f"?{urlencode({'model': model})}" if model else ""
        return self._call("DELETE", f"/_control/faults{query}", None)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/_control/faults", None)

    def stats(self) -> dict[str, Any]:
        """``GET /_control/stats``: per model, requests received and faults served since its reset."""
        return self._call("GET", "/_control/stats", None)

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ControlError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from exc
        except OSError as exc:
            raise ControlError(f"{method} {path}: provider at {self.base_url} unreachable: {exc}") from exc
        result = json.loads(raw) if raw else {}
        return result if isinstance(result, dict) else {"result": result}
