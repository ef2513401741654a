"""The ``aigw`` command. Each subcommand lives beside the code it drives and is imported only when used,
so ``aigw sql`` does not pay for importing Dagster and ``aigw serve`` does not import Streamlit."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command; the module owns the command's options and docs.
COMMANDS: dict[str, str] = {
    "serve": "gateway_shim.server.command:serve",
    "provider": "gateway_shim.simulated_provider.command:provider",
    "simulate": "gateway_shim.simulate.command:simulate",
    "pipeline": "pipelines.command:pipeline",
    "dashboard": "dashboards.command:dashboard",
    "sql": "analytics.command:sql",
    "export": "analytics.export_command:export",
    "loadtest": "loadtests.command:loadtest",
    "policy": "gateway_shim.config.command:policy",
    "lake": "gateway_shim.telemetry.lake_command:lake",
    "demo": "aigw.demo:demo",
}

SHORT_HELP: dict[str, str] = {
    "serve": "Run the gateway.",
    "provider": "Run the simulated model provider with its fault-injection API.",
    "simulate": "Simulate days of traffic through the gateway's own code into the lake.",
    "pipeline": "Materialise the Dagster assets: lake -> raw.events -> marts.",
    "dashboard": "Run the Streamlit review dashboard.",
    "sql": "Run a read-only SQL query on the warehouse.",
    "export": "Export the warehouse's figures (FOCUS showback).",
    "loadtest": "Run a Locust playbook headless and print its verdict.",
    "policy": "Validate policy configs and compare versions.",
    "lake": "Lake tools: external-table DDL for Athena, Trino, Spark.",
    "demo": "Everything end to end on the embedded defaults.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aigw")
def main() -> None:
    """aigw: the AI-gateway control plane. See README.md."""
