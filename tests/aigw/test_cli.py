from __future__ import annotations

import subprocess
import sys

import click
import pytest

from aigw.cli import COMMANDS, main

DESIGN_COMMANDS = (
    "serve", "provider", "simulate", "pipeline", "dashboard", "sql", "loadtest", "policy", "demo",
)


def run_aigw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aigw", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_resolves_to_a_click_command_with_help(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert isinstance(command, click.Command)
    assert command.get_short_help_str()


def test_help_lists_every_design_command() -> None:
    result = run_aigw("--help")
    assert result.returncode == 0, result.stderr
    for name in DESIGN_COMMANDS:
        assert f"  {name}" in result.stdout


def test_unknown_subcommand_is_a_clear_usage_error() -> None:
    result = run_aigw("serv")
    assert result.returncode == 2
    assert "No such command 'serv'" in result.stderr
    assert "Traceback" not in result.stderr
