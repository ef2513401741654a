"""Load and validate the YAML policy document, with errors that name the file, the key and the line."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway_shim.config.models import REFERENCE_ERRORS_SEPARATOR, Config

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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
        raise ConfigError(_describe(source, exc, node)) from exc


def _describe(source: str, exc: ValidationError, root: yaml.Node | None) -> str:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        if error["type"] == "value_error" and not path:
            for reference_error in str(error["ctx"]["error"]).split(REFERENCE_ERRORS_SEPARATOR):
                key, _, reason = reference_error.partition(": ")
                problems.append((key, reason))
        elif error["type"] == "extra_forbidden":
            problems.append((path, "unknown key"))
        else:
            problems.append((path, error["msg"].removeprefix("Value error, ")))
    count = len(problems)
    lines = [f"{source}: invalid config ({count} problem{'s' if count > 1 else ''})"]
    for key_path, reason in problems:
        line = _line_of(root, key_path)
        where = f"{source}:{line}: " if line else ""
        lines.append(f"  {where}{key_path or '<root>'}: {reason}")
    return "\n".join(lines)


def _line_of(node: yaml.Node | None, path: str) -> int | None:
    """1-based line of the deepest YAML node on ``path`` (a key path like ``routes.default.targets.0``)."""
    found: int | None = None
    for part in path.split(".") if path else []:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            found, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            found = node.start_mark.line + 1
        else:
            break
    return found
