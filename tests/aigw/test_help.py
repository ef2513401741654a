"""``--help`` is consistent across commands: every option documented, the same option worded and typed
the same everywhere it means the same thing."""

from __future__ import annotations

from collections import defaultdict

import click
import pytest
from click.testing import CliRunner

from aigw.cli import COMMANDS, main

# Options that mean the same thing in every command that has them.
SAME_EVERYWHERE = ("--lake", "--warehouse", "--scale")
# Options that mean the same thing in the commands that bind a listener.
BINDING_COMMANDS = ("serve", "provider", "dashboard")
BINDING_OPTIONS = ("--host", "--port")


def every_command() -> dict[str, click.Command]:
    context = click.Context(main)
    found: dict[str, click.Command] = {}
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            found[name] = command
    return found


COMMAND_TABLE = every_command()


def options_named(name: str, commands: dict[str, click.Command]) -> dict[str, click.Option]:
    return {where: option for where, command in commands.items() for option in command.params
            if isinstance(option, click.Option) and name in option.opts}


@pytest.mark.parametrize("name", sorted(COMMAND_TABLE))
def test_every_option_is_documented_and_help_runs(name: str) -> None:
    command = COMMAND_TABLE[name]
    undocumented = [o.opts[0] for o in command.params if isinstance(o, click.Option) and not o.help]
    assert not undocumented, f"aigw {name}: options without help: {undocumented}"
    assert command.help, f"aigw {name} has no description"
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0 and result.output.startswith("Usage: "), result.output


def test_the_same_option_reads_the_same_in_every_command() -> None:
    differing: dict[str, dict[str, tuple[str | None, str]]] = defaultdict(dict)
    checks = [(name, COMMAND_TABLE) for name in SAME_EVERYWHERE]
    binders = {name: COMMAND_TABLE[name] for name in BINDING_COMMANDS}
    checks += [(name, binders) for name in BINDING_OPTIONS]
    for name, commands in checks:
        found = {where: (o.help, o.type.name) for where, o in options_named(name, commands).items()}
        assert len(found) >= 2, f"{name} is in fewer than two commands: nothing to compare"
        if len(set(found.values())) > 1:
            differing[name] = found
    assert not differing, f"options worded or typed differently across commands: {dict(differing)}"


def test_file_options_are_typed_as_files() -> None:
    for name in ("--warehouse", "--config"):
        for where, option in options_named(name, COMMAND_TABLE).items():
            assert option.type.name in ("file", "path"), f"aigw {where} {name} is typed {option.type.name}"
