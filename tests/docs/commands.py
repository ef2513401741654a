"""The shell commands the README and docs print, read from their ```bash and ```console blocks.

A block runs as printed, command by command, in one private network namespace (so the documented fixed
ports 8080, 9000, 8501 and 3000 never collide with anything else on the machine). A line ending in ``&``
starts a server in the background for the rest of the block. An HTML comment on the line just before a
block's fence changes how it runs; it is visible in the source and names its reason:

- ``<!-- test: long-running -->``: each command is a server or a long job. It is started, must be alive
  (and listening, if it is a known server) within a short time, then is stopped with SIGTERM and must
  exit promptly without a traceback.
- ``<!-- test: make-dry-run -->``: the commands are ``make`` targets that run the test suite or the
  whole demo; the test checks each target with ``make -n`` (what it would run) instead.

In a ```console block, lines starting with ``$ `` are commands and the lines after them are the output
they must print.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MODES = ("run", "long-running", "make-dry-run")
_MARKER = re.compile(r"^<!--\s*test:\s*(?P<mode>[a-z-]+)\s*(?P<reason>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
# The port each documented server listens on when the command does not name one.
DEFAULT_PORTS = {"aigw provider": 9000, "aigw serve": 8080, "aigw dashboard": 8501, "dg dev": 3000,
                 "dagster dev": 3000}


@dataclass(frozen=True)
class Command:
    source: str  # "docs/gateway.md:8"
    text: str  # as printed, continuation lines included
    background: bool = False
    expected_output: str | None = None  # what a ```console block shows after the command
    long_running: bool = False

    @property
    def port(self) -> int | None:
        """The TCP port this command serves on, if it starts a documented server."""
        words = words_of(self.text)
        if "--port" in words:
            return int(words[words.index("--port") + 1])
        if "--tls-port" in words:
            return int(words[words.index("--tls-port") + 1])
        program = " ".join(w for w in words if "=" not in w)
        for prefix, port in DEFAULT_PORTS.items():
            if program.startswith(prefix):
                return port
        return None


@dataclass(frozen=True)
class Block:
    source: str
    mode: str
    commands: tuple[Command, ...]


def words_of(text: str) -> list[str]:
    """Shell words up to the first comment, ``&`` as its own word."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        words_of(text)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def _bash_commands(lines: list[tuple[int, str]], name: str) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] = []
    start = 0
    for number, line in lines:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            start = number
        pending.append(line)
        text = "\n".join(pending)
        if _complete(text):
            words = words_of(text)
            commands.append(Command(f"{name}:{start}", text, background=bool(words) and words[-1] == "&"))
            pending = []
    if pending:
        raise ValueError(f"{name}:{start}: unfinished command in a bash block")
    return commands


def _console_commands(lines: list[tuple[int, str]], name: str) -> list[Command]:
    commands: list[Command] = []
    text: list[str] = []
    output: list[str] = []
    start = 0

    def flush() -> None:
        if text:
            shown = "\n".join(output) if output else None
            commands.append(Command(f"{name}:{start}", "\n".join(text), expected_output=shown))

    for number, line in lines:
        if line.startswith("$ "):
            flush()
            text, output, start = [line[2:]], [], number
        elif text and not output and not _complete("\n".join(text)):
            text.append(line)
        elif text:
            output.append(line)
        elif line.strip():
            raise ValueError(f"{name}:{number}: a console block must start with a '$ ' command")
    flush()
    return commands


def blocks_in(path: Path, name: str) -> list[Block]:
    """Every ```bash and ```console block of one Markdown file, with its mode."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        lang = fence["lang"]
        body: list[tuple[int, str]] = []
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            body.append((end + 1, lines[end]))
            end += 1
        if lang in ("bash", "console"):
            marker = _MARKER.match(lines[index - 1]) if index else None
            mode = marker["mode"] if marker else "run"
            if mode not in MODES:
                raise ValueError(f"{name}:{index}: unknown test mode {mode!r} (one of {', '.join(MODES)})")
            parse = _bash_commands if lang == "bash" else _console_commands
            blocks.append(Block(f"{name}:{index + 1}", mode, tuple(parse(body, name))))
        index = end + 1
    return blocks
