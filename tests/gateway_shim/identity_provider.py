"""A stand-in company identity provider for the tests: real RSA/EC keys, tokens signed with PyJWT, and
its JWKS document served over HTTP by a stdlib server on 127.0.0.1 (which counts the fetches)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.helpers import LOCALHOST

ISSUER = "https://login.example.test/"
AUDIENCE = "aigw"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}


def new_key(kid: str, alg: str = "RS256") -> SigningKey:
    if alg == "RS256":
        return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return SigningKey(kid, alg, ec.generate_private_key(ec.SECP256R1()))


@dataclass
class IdentityProvider:
    """The keys it publishes (``published``) and signs with (any ``SigningKey``)."""

    published: list[SigningKey] = field(default_factory=list)
    issuer: str = ISSUER

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.published]}

    def token(self, key: SigningKey | None = None, *, lifetime_s: float = 300, now: float | None = None,
              headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token signed by ``key`` (default: the first published) with standard claims filled in;
        a claim given as ``None`` is left out."""
        key = key or self.published[0]
        issued = time.time() if now is None else now
        body: dict[str, Any] = {"iss": self.issuer, "aud": AUDIENCE, "sub": "user-1", "iat": int(issued),
                                "exp": int(issued + lifetime_s), **claims}
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})})


class JwksServer:
    """Serves ``provider.jwks()`` at ``/jwks.json``; ``fetches`` counts the GETs."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        self.fetches = 0
        self.last_fetch = float("-inf")
        """``time.monotonic()`` of the latest GET."""
        self.fail = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                server.last_fetch = time.monotonic()
                if server.fail or self.path != "/jwks.json":
                    self.send_error(503 if server.fail else 404)
                    return
                body = json.dumps(server.provider.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self._http.server_address[1]}/jwks.json"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)
