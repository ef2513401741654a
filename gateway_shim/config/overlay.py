"""Config overlays: a small document that names only what it changes in a base config.

One merge rule for every place that patches a config (load-test playbook configs, the simulator's
mid-month policy changes): mappings merge key by key, lists and scalars replace (``null`` replaces
too, which is how an overlay unsets an optional key). An overlay file is a config document with a
top-level ``base`` key — ``demo`` (the shipped demo config) or a path relative to the overlay's
folder — whose other keys are the patch; a document without ``base`` is a full config as it is.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway_shim.config.loader import DEMO_CONFIG, ConfigError
from gateway_shim.config.models import Config
from gateway_shim.config.yaml_document import (
    format_problems,
    line_of,
    parse_yaml_mapping,
    read_text,
    validation_problems,
)

BASE_KEY = "base"
BASES = {"demo": DEMO_CONFIG}


def apply_overlay(base_document: Any, patch: Any) -> Any:
    """``patch`` deep-merged into ``base_document`` (neither is modified)."""
    if isinstance(base_document, dict) and isinstance(patch, dict):
        merged = dict(base_document)
        for key, value in patch.items():
            merged[key] = (apply_overlay(base_document[key], value) if key in base_document
                           else copy.deepcopy(value))
        return merged
    return copy.deepcopy(patch)


def load_config_document(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Config]:
    """The full config document at ``path`` (an overlay resolved against its base) and its validated
    ``Config``. Errors name the overlay file, the line and the key path."""
    source = Path(path)
    document, root = _read(source)
    if BASE_KEY not in document:
        return document, _validate(document, str(source), root)
    patch = dict(document)
    base_path = _base_path(patch.pop(BASE_KEY), source, root)
    try:
        base, _ = _read(base_path)
    except ConfigError as exc:
        raise ConfigError(f"{source}:{line_of(root, BASE_KEY)}: {BASE_KEY}: {exc}") from exc
    if BASE_KEY in base:
        raise ConfigError(f"{base_path}: an overlay's base must be a full config, not another overlay")
    _validate(base, str(base_path), None)
    merged = apply_overlay(base, patch)
    return merged, _validate(merged, str(source), root)


def _read(source: Path) -> tuple[dict[str, Any], yaml.Node]:
    return parse_yaml_mapping(read_text(source, "config", ConfigError), str(source), ConfigError)


def _base_path(value: object, source: Path, root: yaml.Node) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}:{line_of(root, BASE_KEY)}: {BASE_KEY}: expected 'demo' or a path to a "
                          f"config file, got {value!r}")
    if value in BASES:
        return BASES[value]
    return source.parent / value


def _validate(document: dict[str, Any], source: str, root: yaml.Node | None) -> Config:
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_problems(source, root, validation_problems(exc), "config")) from exc
