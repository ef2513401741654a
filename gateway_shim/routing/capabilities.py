"""What each target can serve, and whether it serves what a request needs.

A shipped catalog names the capabilities (tools, vision, json_schema) and context window of known
model families; a route target's ``capabilities`` in the config overrides it key by key. A model
neither knows is assumed able (the provider then answers for itself). Needs come from the front
doors (``gateway_shim/wire/fates.py``): capabilities, fields only one wire format carries, unknown
fields that only a same-format provider set to forward them may get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway_shim.config.models import Capabilities, Provider
from gateway_shim.types import Target


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    capabilities: frozenset[str]
    context_window: int | None


def _caps(*names: str, window: int | None) -> ModelCapabilities:
    return ModelCapabilities(frozenset(names), window)


CATALOG: Final[tuple[tuple[str, ModelCapabilities], ...]] = (
    # Bedrock model ids (a cross-region prefix such as "us." is ignored), most specific first.
    ("anthropic.claude-3-5-haiku", _caps("tools", "json_schema", window=200_000)),
    ("anthropic.claude-3-haiku", _caps("tools", "vision", window=200_000)),
    ("anthropic.claude", _caps("tools", "vision", "json_schema", window=200_000)),
    ("amazon.nova-micro", _caps("tools", "json_schema", window=128_000)),
    ("amazon.nova-lite", _caps("tools", "vision", "json_schema", window=300_000)),
    ("amazon.nova-pro", _caps("tools", "vision", "json_schema", window=300_000)),
    ("amazon.nova-premier", _caps("tools", "vision", "json_schema", window=1_000_000)),
    ("amazon.titan-text", _caps(window=8_192)),
    ("meta.llama3-1", _caps("tools", window=128_000)),
    ("meta.llama3-2-11b", _caps("vision", window=128_000)),
    ("meta.llama3-2-90b", _caps("vision", window=128_000)),
    ("meta.llama3", _caps(window=8_192)),
    ("mistral.mistral-large", _caps("tools", window=128_000)),
    ("cohere.command-r", _caps("tools", window=128_000)),
    # OpenAI model names.
    ("gpt-4o", _caps("tools", "vision", "json_schema", window=128_000)),
    ("gpt-4.1", _caps("tools", "vision", "json_schema", window=1_000_000)),
    ("gpt-5", _caps("tools", "vision", "json_schema", window=400_000)),
    ("o3", _caps("tools", "vision", "json_schema", window=200_000)),
    ("o4-mini", _caps("tools", "vision", "json_schema", window=200_000)),
    ("gpt-3.5-turbo", _caps("tools", window=16_385)),
)
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")
WIRES: Final = {"simulated": "openai", "openai": "openai", "bedrock": "converse"}
"""The wire format each provider kind speaks."""


def catalog_entry(model: str) -> ModelCapabilities | None:
    name = model
    for prefix in _REGION_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return next((caps for family, caps in CATALOG if name.startswith(family)), None)


def make_target(provider_name: str, provider: Provider, model: str,
                declared: Capabilities | None) -> Target:
    """The routing target for a configured provider/model, with its wire and capabilities."""
    known = catalog_entry(model)
    capabilities = set(known.capabilities) if known is not None else None
    window = known.context_window if known is not None else None
    if declared is not None:
        if capabilities is None and any(v is not None for v in (declared.tools, declared.vision,
                                                                 declared.json_schema)):
            capabilities = {"tools", "vision", "json_schema"}  # undeclared ones stay assumed
        for name in ("tools", "vision", "json_schema"):
            value = getattr(declared, name)
            if value is True and capabilities is not None:
                capabilities.add(name)
            elif value is False and capabilities is not None:
                capabilities.discard(name)
        if declared.context_window is not None:
            window = declared.context_window
    return Target(provider_name, model, provider.timeout_s, WIRES[provider.kind],
                  frozenset(capabilities) if capabilities is not None else None, window,
                  provider.unknown_fields == "forward")


def serves(target: Target, need: str) -> bool:
    """Whether ``target`` can serve one need (see ``gateway_shim/wire/fates.py``)."""
    kind, _, name = need.partition(":")
    if not name:
        return target.capabilities is None or need in target.capabilities
    if kind == "unknown":
        return target.forwards_unknown and target.wire == "openai"
    return target.wire == kind


def missing(target: Target, needs: tuple[str, ...], input_tokens: int) -> list[str]:
    """What of ``needs`` (and the context window) ``target`` cannot serve; empty when it can."""
    lacking = [need for need in needs if not serves(target, need)]
    if target.context_window is not None and input_tokens > target.context_window:
        lacking.append(f"context window ({input_tokens} tokens > {target.context_window})")
    return lacking
