"""Reading a YAML document for a person: syntax errors with the line, validation errors with the
file, the line and the key path. Shared by the policy config and the simulation scenarios."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

# Validators that find several problems at once raise one ValueError whose message holds one
# "key.path: reason" per line; `validation_problems` splits them back out.
PROBLEMS_SEPARATOR = "\n"

Problem = tuple[str, str]


def read_text(source: Path, what: str, error: type[ValueError]) -> str:
    """The file's text; ``error`` naming the file when it cannot be read."""
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{source}: cannot read {what}: {exc.strerror or exc}") from exc


def parse_yaml_mapping(text: str, source: str, error: type[ValueError]) -> tuple[dict[str, Any], yaml.Node]:
    """The document and its node tree (which keeps line numbers); ``error`` on bad syntax or shape."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{source}{where}: YAML syntax error: {problem}") from exc
    if not isinstance(document, dict) or root is None:
        raise error(f"{source}: expected a mapping at the top level, got {type(document).__name__}")
    return document, root


def validation_problems(
    exc: ValidationError, keep: Callable[[Sequence[Any], int], bool] = lambda loc, i: True
) -> list[Problem]:
    """(key path, reason) pairs; ``keep(loc, i)`` may drop location parts such as union tags."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        path = ".".join(str(part) for i, part in enumerate(loc) if keep(loc, i))
        message = str(error.get("ctx", {}).get("error", ""))
        if error["type"] == "value_error" and (not path or PROBLEMS_SEPARATOR in message):
            for problem in message.split(PROBLEMS_SEPARATOR):
                key, _, reason = problem.partition(": ")
                problems.append((f"{path}.{key}" if path else key, reason))
        elif error["type"] == "extra_forbidden":
            problems.append((path, "unknown key"))
        else:
            problems.append((path, error["msg"].removeprefix("Value error, ")))
    return problems


def format_problems(source: str, root: yaml.Node | None, problems: list[Problem], what: str) -> str:
    count = len(problems)
    lines = [f"{source}: invalid {what} ({count} problem{'s' if count > 1 else ''})"]
    for key_path, reason in problems:
        line = line_of(root, key_path)
        where = f"{source}:{line}: " if line else ""
        lines.append(f"  {where}{key_path or '<root>'}: {reason}")
    return "\n".join(lines)


def line_of(node: yaml.Node | None, path: str) -> int | None:
    """1-based line of the deepest YAML node on ``path`` (a key path like ``routes.default.targets.0``).
    A key with dots in it (a model id such as ``amazon.nova-lite-v1``) matches several parts at once."""
    found: int | None = None
    parts = path.split(".") if path else []
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, yaml.MappingNode):
            keys = {str(k.value): (k, v) for k, v in node.value}
            width = next((w for w in range(len(parts) - i, 0, -1) if ".".join(parts[i:i + w]) in keys), 0)
            if not width:
                break
            key, node = keys[".".join(parts[i:i + width])]
            found = key.start_mark.line + 1
            i += width
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            found = node.start_mark.line + 1
            i += 1
        else:
            break
    return found
