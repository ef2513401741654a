"""Fetch the identity provider's JWKS document and hand its keys to the gateway's token verifier.

Never on the event loop: the HTTP GET runs in a worker thread with a short timeout. Fetched at start
(so the first token does not wait), again every ``jwks_refresh_s``, and on demand when a token names
a key id not loaded yet — at most once per ``jwks_min_refresh_interval_s``, so a flood of tokens with
made-up key ids costs the issuer one request per interval. A request whose key is being fetched waits
for that one fetch (bounded by ``jwks_fetch_timeout_s``), then is verified as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable

import orjson

from gateway_shim.config.models import Oidc
from gateway_shim.policy.jwt_identity import JwtVerifier
from gateway_shim.policy.signing_keys import JwksError, parse_jwks

log = logging.getLogger("aigw.identity")

MAX_JWKS_BYTES = 1 << 20


def fetch_document(url: str, timeout_s: float) -> object:
    """GET ``url`` and parse its JSON (blocking: run it in a thread)."""
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(MAX_JWKS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()  # its response holds the connection
        raise JwksError(f"HTTP {exc.code} {exc.reason}") from None
    if len(body) > MAX_JWKS_BYTES:
        raise JwksError(f"the JWKS document is larger than {MAX_JWKS_BYTES} bytes")
    return orjson.loads(body)


class JwksFetcher:
    """Keeps the verifier's keys current. ``verifier`` is read on every use (a policy reload swaps it)."""

    def __init__(self, settings: Oidc, verifier: Callable[[], JwtVerifier | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._verifier = verifier
        self._clock = clock
        self._last_attempt = float("-inf")
        self._inflight: asyncio.Task[bool] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self.fetches = 0
        self.failures = 0

    @property
    def settings(self) -> Oidc:
        """The current verifier's settings (a policy reload may move the JWKS URL), else the first."""
        verifier = self._verifier()
        return verifier.settings if verifier is not None else self._settings

    async def start(self) -> bool:
        """The first fetch (awaited, bounded) and the periodic refresh; ``False`` if the first failed
        (tokens then get 401 ``unknown_signing_key`` until a later fetch succeeds)."""
        ok = await self._refresh_now()
        self._periodic = asyncio.create_task(self._every_period(ok), name="jwks-refresh")
        return ok

    async def aclose(self) -> None:
        for task in (self._periodic, self._inflight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def waiter_for(self, credential: str | None) -> Awaitable[object] | None:
        """Something to await before admitting a request whose token names a key not loaded yet
        (the refresh it started or joined); ``None`` for everything else (API keys included)."""
        verifier = self._verifier()
        if verifier is None or not credential:
            return None
        kid = verifier.missing_key(credential)
        if kid is None:
            return None
        task = self._inflight
        if task is None or task.done():
            if self._clock() - self._last_attempt < self.settings.jwks_min_refresh_interval_s:
                return None
            task = self._inflight = asyncio.create_task(self._refresh_now(), name="jwks-fetch")
            log.info("token with unknown key id %r: fetching %s", kid, self.settings.jwks_url)
        return self._join(task)

    async def _every_period(self, last_ok: bool) -> None:
        # after a failure, retry sooner than a full period (still at the bounded rate)
        delay = self.settings.jwks_refresh_s if last_ok else self.settings.jwks_min_refresh_interval_s
        while True:
            await asyncio.sleep(delay)
            ok = await self._refresh_now()
            delay = self.settings.jwks_refresh_s if ok else self.settings.jwks_min_refresh_interval_s

    async def _join(self, task: asyncio.Task[bool]) -> None:
        """Wait for a fetch, never longer than its timeout, never raising (the token decides next)."""
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.jwks_fetch_timeout_s + 1)
        except Exception:
            log.debug("waiting for the JWKS fetch ended early", exc_info=True)

    async def _refresh_now(self) -> bool:
        self._last_attempt = self._clock()
        self.fetches += 1
        url = self.settings.jwks_url
        try:
            timeout = self.settings.jwks_fetch_timeout_s
            # the socket timeout bounds each read; wait_for bounds a server that trickles bytes
            document = await asyncio.wait_for(asyncio.to_thread(fetch_document, url, timeout), timeout + 1)
            keys = parse_jwks(document, self.settings.algorithms)
        except (OSError, ValueError, TimeoutError) as exc:
            self.failures += 1
            log.warning("identity: cannot load signing keys from %s: %s", url, exc)
            return False
        verifier = self._verifier()
        if verifier is not None and verifier.use_keys(keys):
            log.info("identity: %d signing key(s) from %s%s", len(keys.by_kid) + len(keys.unnamed), url,
                     f"; skipped {'; '.join(keys.skipped)}" if keys.skipped else "")
        return True
