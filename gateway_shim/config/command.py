"""`aigw policy check`: validate a policy document, print its version and what changed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway_shim.config.diff import diff_documents
from gateway_shim.config.loader import ConfigError
from gateway_shim.config.overlay import load_config_document


@click.group()
def policy() -> None:
    """Validate policy configs and compare versions."""


@policy.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--against", "other", type=click.Path(path_type=Path), help="Another config to diff against.")
def check(file: Path, other: Path | None) -> None:
    """Validate FILE (a full config, or an overlay with `base:`) and print its policy version;
    with --against, the key-level differences."""
    try:
        config = load_config_document(file)[1]
        baseline = load_config_document(other)[1] if other is not None else None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{file}: valid, policy version {config.policy_version}")
    if baseline is None:
        return
    changes = diff_documents(json.loads(baseline.canonical_json()), json.loads(config.canonical_json()))
    if not changes:
        click.echo(f"no differences from {other} (policy version {baseline.policy_version})")
        return
    click.echo(f"{len(changes)} difference(s) from {other} (policy version {baseline.policy_version}):")
    for change in changes:
        click.echo(f"  {change}")
