"""Per-request CPU cost of authentication: an aigw API key vs a company JWT (RS256, ES256), a fresh
token each request (a signature check) and a repeated one (the verified-token cache), alone and
through the gateway core's admit + finish.

Run:  .venv/bin/python benchmarks/identity.py [--requests 20000] [--repeats 5]

Tokens are signed beforehand (signing is the identity provider's cost, not the gateway's); the
"fresh" rows verify ``--fresh`` distinct tokens round-robin with the cache cleared each time, so every
verification checks a signature. CPU (process) time, best of ``--repeats``; one process, one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import Config
from gateway_shim.core import Gateway
from gateway_shim.policy.authentication import Authenticator
from gateway_shim.policy.callers import Caller
from gateway_shim.policy.signing_keys import parse_jwks
from gateway_shim.types import Plan, RequestContext
from tests.gateway_shim.identity_provider import AUDIENCE, ISSUER, IdentityProvider, new_key

NOW = 1_795_600_000.0
OIDC = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://login.example.test/jwks.json",
        "claims": {"tenant": "org", "team": "dept", "app": "azp", "user": "email"},
        "tenants": {"payments": "acme", "support": "globex", "search": "initech"}}


def config() -> Config:
    document = load_config(DEMO_CONFIG).model_dump(mode="json")
    for tenant in document["tenants"].values():
        tenant["limits"] = {"requests_per_min": 10**12, "tokens_per_min": 10**15}
        tenant["monthly_budget_usd"] = 1e12
    document["identity"] = {"oidc": OIDC}
    return Config.model_validate(document)


def best_us(run: Callable[[int], None], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run(n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--fresh", type=int, default=500, help="distinct tokens per algorithm")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = config()
    idp = IdentityProvider([new_key("rsa-1", "RS256"), new_key("ec-1", "ES256")])
    keys = parse_jwks(idp.jwks(), ["RS256", "ES256"])
    claims: dict[str, Any] = {"org": "payments", "dept": "risk", "azp": "fraud-bot", "email": "a@x.test"}
    tokens = {key.alg: [idp.token(key, now=NOW, jti=str(i), **claims) for i in range(args.fresh)]
              for key in idp.published}

    def authenticator() -> Authenticator:
        auth = Authenticator(cfg.tenants, cfg.identity.oidc)
        assert auth.jwt is not None
        auth.jwt.use_keys(keys)
        return auth

    def repeated(credential: str) -> Callable[[int], None]:
        def run(n: int) -> None:
            identify = authenticator().identify
            for _ in range(n):
                assert type(identify(credential, NOW)) is Caller
        return run

    def fresh(alg: str) -> Callable[[int], None]:
        pool = tokens[alg]

        def run(n: int) -> None:
            auth = authenticator()
            assert auth.jwt is not None
            cache = auth.jwt._verified
            for i in range(n):
                cache.clear()
                assert type(auth.identify(pool[i % len(pool)], NOW)) is Caller
        return run

    def through_core(credential: str) -> Callable[[int], None]:
        def run(n: int) -> None:
            events: list[dict[str, Any]] = []
            gw = Gateway(cfg, gateway_id="bench", emit=events.append)
            assert gw.identity.jwt is not None
            gw.identity.jwt.use_keys(keys)
            received = int(NOW * 1e6)
            for _ in range(n):
                ctx = RequestContext(api_key=credential, messages=[{"role": "user", "content": "hi there"}],
                                     received_at=received, workflow="support-summary",
                                     latency_class="interactive")
                plan = gw.admit(ctx, 0.0)
                assert isinstance(plan, Plan), plan
                gw.next_target(plan, 0.0)
                gw.finish(plan, status_code=200, now=0.0, input_tokens=10, output_tokens=10)
                if len(events) >= 1000:
                    events.clear()
        return run

    rows: list[tuple[str, Callable[[int], None], int]] = [
        ("identify: API key", repeated("demo-acme"), args.requests),
        ("identify: JWT RS256, repeated (cache hit)", repeated(tokens["RS256"][0]), args.requests),
        ("identify: JWT ES256, repeated (cache hit)", repeated(tokens["ES256"][0]), args.requests),
        ("identify: JWT RS256, fresh (signature checked)", fresh("RS256"), min(args.requests, 4000)),
        ("identify: JWT ES256, fresh (signature checked)", fresh("ES256"), min(args.requests, 4000)),
        ("core admit+finish: API key", through_core("demo-acme"), args.requests),
        ("core admit+finish: JWT RS256, repeated", through_core(tokens["RS256"][0]), args.requests),
    ]
    print(f"best of {args.repeats}, CPU time of this process")
    print(f"{'scenario':<50} {'CPU us/req':>10} {'requests/s':>11}")
    for name, run, n in rows:
        us = best_us(run, n, args.repeats)
        print(f"{name:<50} {us:>10.2f} {1e6 / us:>11,.0f}")


if __name__ == "__main__":
    main()
