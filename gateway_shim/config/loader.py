"""Load and validate the YAML policy document, with errors that name the file, the key and the line."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway_shim.config.models import Config

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
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config: {exc.strerror or exc}") from exc
    return parse_config(text, str(source))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: YAML syntax error: {problem}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(document).__name__}")
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from exc


def _describe(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid config ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''})"]
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "<root>"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)
