from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from gateway_shim.simulated_provider.command import provider
from tests.helpers import free_port, wait_for_port


def test_aigw_provider_serves_until_terminated() -> None:
    port = free_port()
    aigw = str(Path(sys.executable).parent / "aigw")
    process = subprocess.Popen([aigw, "provider", "--port", str(port), "--seed", "3", "--time-scale", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port, timeout=15)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as response:
            assert "gpt-4o-mini" in {m["id"] for m in json.load(response)["data"]}
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert b"seed 3" in err


def test_a_bad_time_scale_in_the_environment_is_a_usage_error() -> None:
    result = CliRunner().invoke(provider, [], env={"AIGW_PROVIDER_TIME_SCALE": "fast"})
    assert result.exit_code == 2 and "AIGW_PROVIDER_TIME_SCALE" in result.output


def test_a_busy_port_is_one_clear_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(provider, ["--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
                                     "(another provider running? choose another --port)")


def test_a_bad_invocation_log_location_or_account_is_a_usage_error() -> None:
    result = CliRunner().invoke(provider, ["--invocation-logs", "ftp://logs"])
    assert result.exit_code == 2
    assert "--invocation-logs" in result.output and "only local folders and s3:// URLs" in result.output
    result = CliRunner().invoke(provider, [], env={"AIGW_PROVIDER_INVOCATION_LOGS": "ftp://logs"})
    assert result.exit_code == 2 and "only local folders and s3:// URLs" in result.output
    result = CliRunner().invoke(provider, ["--account-id", "1234"])
    assert result.exit_code == 2 and "'1234' is not 12 digits" in result.output
