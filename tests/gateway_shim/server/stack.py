"""`aigw provider` + `aigw serve` as real subprocesses on free ports, with a lake and spool in tmp.

Used by the fixtures in conftest.py (and by anyone needing a running gateway in a test).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.helpers import LOCALHOST, free_port, wait_until

TEST_CONFIG = Path(__file__).with_name("gateway_test.yaml")
KEYS = {"acme": "demo-acme", "tiny": "test-tiny", "limited": "test-limited",
        "acme_loadtest": "test-acme-loadtest"}
"""Plain keys of ``gateway_test.yaml``; only ``acme_loadtest`` may mark load-test traffic (``lt-`` runs)."""


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    process.kill()
    raise TimeoutError(f"{url} not healthy after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes], timeout: float) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


@dataclass
class ProviderProcess:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def fault(self, **body: Any) -> None:
        """Inject a fault (`POST /_control/faults`), e.g. ``fault(model="m", outage=True)``."""
        request = urllib.request.Request(f"{self.url}/_control/faults", data=orjson.dumps(body),
                                         method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status in (200, 201), response.read()

    def clear_faults(self) -> None:
        request = urllib.request.Request(f"{self.url}/_control/faults", method="DELETE")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def requests_received(self, model: str) -> int:
        """How many requests for ``model`` the provider has received so far (`GET /_control/stats`)."""
        with urllib.request.urlopen(f"{self.url}/_control/stats", timeout=5) as response:
            stats = orjson.loads(response.read())
        return int(stats["models"].get(model, {}).get("requests", 0))

    def wait_for_request(self, model: str, already: int, timeout: float = 15.0) -> None:
        """Block until a request for ``model`` beyond the ``already`` counted has reached the provider,
        i.e. it is in flight upstream; ``TimeoutError`` after ``timeout`` seconds."""
        if not wait_until(lambda: self.requests_received(model) > already, timeout):
            raise TimeoutError(f"no new request for {model} reached the provider in {timeout:.0f}s")

    def stop(self) -> int:
        return _stop(self.process, 10)


def start_provider(tmp: Path, *, time_scale: float = 0.05, seed: int = 7, args: tuple[str, ...] = (),
                   env: dict[str, str] | None = None) -> ProviderProcess:
    """`aigw provider` on a free port (``args`` added to its command line, ``env`` to its environment)."""
    port = free_port()
    log = tmp / "provider.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aigw", "provider", "--port", str(port), "--seed", str(seed),
             "--time-scale", str(time_scale), *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    provider = ProviderProcess(port, process, log)
    _wait_healthy(provider.url, process, log)
    return provider


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (boto3 sends bearer tokens over HTTPS only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCALHOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCALHOST))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "gateway.crt", folder / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class GatewayProcess:
    port: int
    tls_port: int
    ca_file: Path
    lake_url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    admin_port: int = 0

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def admin_url(self) -> str:
        """The admin listener: ``/healthz`` with identity, ``/metrics``."""
        return f"http://{LOCALHOST}:{self.admin_port}"

    @property
    def tls_url(self) -> str:
        return f"https://{LOCALHOST}:{self.tls_port}"

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Both listeners answer: the API port's bare ``/healthz``, then the admin one's."""
        deadline = time.monotonic() + timeout
        _wait_healthy(self.url, self.process, self.log, timeout)
        _wait_healthy(self.admin_url, self.process, self.log, max(1.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the drain and the telemetry flush; the exit code."""
        return _stop(self.process, timeout)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.admin_url}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text

    def events(self) -> list[dict[str, Any]]:
        """Every event in the lake (a folder or S3), read back with DuckDB after ``stop`` flushed them."""
        import duckdb
        import pyarrow as pa
        import pyarrow.parquet as pq

        from gateway_shim.telemetry.storage import LakeLocation

        lake = LakeLocation.parse(self.lake_url, self.env)
        files = [f for f in lake.list_files("events/v1") if f.path.endswith(".parquet")]
        if not files:
            return []
        events = pa.concat_tables([pq.read_table(f.path, filesystem=lake.filesystem) for f in files])
        with duckdb.connect() as con:
            con.register("events", events)
            relation = con.execute("SELECT * FROM events ORDER BY ts")
            columns = [d[0] for d in relation.description]
            return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def start_gateway(tmp: Path, provider: ProviderProcess, *, gateway_id: str = "test-gw",
                  config_text: str | None = None, lake_url: str | None = None,
                  env: dict[str, str] | None = None, drain_timeout_s: float = 15) -> GatewayProcess:
    """`aigw serve` on free ports (plain and TLS) with a lake in ``tmp`` unless ``lake_url`` is given."""
    gateway = spawn_gateway(tmp, provider, gateway_id=gateway_id, config_text=config_text, lake_url=lake_url,
                            env=env, drain_timeout_s=drain_timeout_s)
    gateway.wait_healthy()
    return gateway


def spawn_gateway(tmp: Path, provider: ProviderProcess, *, gateway_id: str = "test-gw",
                  config_text: str | None = None, lake_url: str | None = None,
                  env: dict[str, str] | None = None, drain_timeout_s: float = 15) -> GatewayProcess:
    """``start_gateway`` without waiting for it (start several, then ``wait_healthy`` each)."""
    tmp.mkdir(parents=True, exist_ok=True)
    text = config_text if config_text is not None else TEST_CONFIG.read_text()
    config = tmp / "aigw.yaml"
    config.write_text(text.replace("__PROVIDER_PORT__", str(provider.port)))
    cert, key = write_certificate(tmp)
    port, tls_port, admin_port = free_port(), free_port(), free_port()
    lake = lake_url or str(tmp / "lake")
    log = tmp / f"{gateway_id}.log"
    extra = dict(env or {})
    full_env = {**os.environ, "AIGW_SPOOL": str(tmp / "spool"), **extra}
    full_env.pop("AIGW_LAKE", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aigw", "serve", "--config", str(config), "--port", str(port),
             "--lake", lake, "--gateway-id", gateway_id, "--tls-port", str(tls_port),
             "--tls-cert", str(cert), "--tls-key", str(key), "--drain-timeout", str(drain_timeout_s),
             "--admin-port", str(admin_port),
             "--loop", os.environ.get("AIGW_TEST_LOOP", "uvloop")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env, cwd=tmp)
    return GatewayProcess(port, tls_port, cert, lake, process, log, extra, admin_port)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(url: str, body: bytes | dict[str, Any] | None = None, *, key: str | None = "demo-acme",
         headers: dict[str, str] | None = None, method: str | None = None, timeout: float = 20) -> Answer:
    """One HTTP request with urllib; never raises on an HTTP status."""
    data = orjson.dumps(body) if isinstance(body, dict) else body
    all_headers = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=all_headers,
                                     method=method or ("POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Answer(response.status, headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def chat(content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": content}], **extra}


def traceparent(trace_id: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
