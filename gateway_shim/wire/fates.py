"""What a declared fate is, and what a request needs from the target that serves it.

A fate says what happens to one request field (or content block, or message role) on a target
that speaks the request's own wire format (``same``) and on one that speaks the other (``other``).
The tables live in ``openai_fields.py`` and ``converse_fields.py``; the doors read them to find what
a request needs, and the core skips (or refuses) targets that cannot provide it.

Needs are strings, so the core compares them without knowing the wire formats:
``tools``, ``vision``, ``json_schema`` are capabilities a target declares; ``openai:<field>`` and
``converse:<field>`` need a target of that wire (the field cannot be translated); ``unknown:<field>``
needs a same-wire target whose provider forwards unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SameFate = Literal["forwarded", "gateway"]
OtherFate = Literal["translated", "refused", "gateway"]

CAPABILITIES: Final = ("tools", "vision", "json_schema")
"""What a target may declare it supports (besides its context window)."""


@dataclass(frozen=True, slots=True)
class Fate:
    """``same``: forwarded unchanged, or gateway (read and policy-edited: model, caps, redaction).
    ``other``: translated (``note`` says into what), refused (400 naming the field and target, unless
    the value is one of ``neutral``, which asks for nothing), or gateway (consumed by the gateway)."""

    same: SameFate
    other: OtherFate
    note: str
    neutral: tuple[object, ...] = ()


def forwarded(other: OtherFate, note: str, *neutral: object) -> Fate:
    return Fate("forwarded", other, note, neutral)


def gateway(other: OtherFate, note: str, *neutral: object) -> Fate:
    return Fate("gateway", other, note, neutral)


def wire_need(wire: str, name: str) -> str:
    """The need of a field only a ``wire`` target can carry."""
    return f"{wire}:{name}"


def unknown_need(name: str) -> str:
    return f"unknown:{name}"


def describe_need(need: str) -> str:
    """A need as an error message names it."""
    kind, _, name = need.partition(":")
    if not name:
        return need
    if kind == "unknown":
        return f"unknown field {name!r}"
    wire = "a Bedrock Converse" if kind == "converse" else "an OpenAI-compatible"
    return f"{name!r} (only {wire} target carries it)"
