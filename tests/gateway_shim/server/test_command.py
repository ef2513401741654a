"""`aigw serve` refuses bad setups with a message, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway_shim.config.loader import DEMO_CONFIG
from gateway_shim.server.command import default_gateway_id

pytestmark = pytest.mark.slow


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIGW_SPOOL": str(tmp_path / "spool")}
    return subprocess.run([sys.executable, "-m", "aigw", "serve", "--lake", str(tmp_path / "lake"),
                           "--admin-port", "0", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_an_invalid_config_names_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("version: 1\ntenants: {}\n")
    result = _serve(tmp_path, "--config", str(config), "--port", "0")
    assert result.returncode == 1
    assert f"{config}:2: tenants" in result.stderr and "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = _serve(tmp_path, "--port", str(busy.getsockname()[1]), "--gateway-id", "busy-port")
    assert result.returncode == 1
    assert "cannot serve on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def test_tls_port_needs_a_certificate(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--tls-port", "0")
    assert result.returncode == 2 and "--tls-cert" in result.stderr


def test_default_gateway_id_is_safe_for_file_names() -> None:
    name = default_gateway_id()
    assert name and all(c.isalnum() or c in "._-" for c in name)


def test_serve_refuses_a_key_hash_shared_by_two_tenants(tmp_path: Path) -> None:
    document = yaml.safe_load(DEMO_CONFIG.read_text())
    shared = document["tenants"]["acme"]["api_keys"][0]["sha256"]
    document["tenants"]["globex"]["api_keys"].append({"name": "borrowed", "sha256": shared})
    config = tmp_path / "shared.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    result = _serve(tmp_path, "--config", str(config), "--port", "0")
    assert result.returncode == 1
    assert f"{config}:" in result.stderr and "tenants.globex.api_keys.1.sha256" in result.stderr
    assert "tenant 'acme'" in result.stderr and "Traceback" not in result.stderr
