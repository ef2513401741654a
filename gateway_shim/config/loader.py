"""Load and validate the YAML policy document, with errors that name the file, the key and the line."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from gateway_shim.config.models import Config
from gateway_shim.config.yaml_document import (
    format_problems,
    parse_yaml_mapping,
    read_text,
    validation_problems,
)

DEMO_CONFIG = Path(__file__).with_name("demo.yaml")


class ConfigError(ValueError):
    """A configuration document that cannot be used; the message is meant for a person."""


def default_config_path() -> Path:
    """``--config`` falls back to ``$AIGW_CONFIG``, then ``./aigw.yaml``, then the shipped demo file."""
    env = os.environ.get("AIGW_CONFIG")
    if env:
        return Path(env)
    local = Path("aigw.yaml")
    return local if local.exists() else DEMO_CONFIG


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    source = Path(path) if path is not None else default_config_path()
    return parse_config(read_text(source, "config", ConfigError), str(source))


def parse_config(text: str, source: str = "<config>") -> Config:
    document, root = parse_yaml_mapping(text, source, ConfigError)
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_problems(source, root, validation_problems(exc), "config")) from exc
