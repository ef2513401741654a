"""The in-process simulated LLM, shared by the `aigw provider` server and `aigw simulate`.

It combines the fault set (what happens to a request), the latency model (how long it takes) and a
deterministic answer: the input token count comes from the prompt text, the output length from a hash
of (seed, model, prompt) bounded by max_tokens, and the words from a fixed corpus. The same seed and
the same sequence of requests give the same answers, statuses and timings.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from gateway_shim.simulated_provider import latency
from gateway_shim.simulated_provider.faults import Decision, FaultSet, Kind

DEFAULT_MAX_TOKENS = 4096
MAX_OUTPUT_TOKENS = 16_384
_OCCURRENCE_CAP = 100_000
_UNIT = NormalDist()
_VOCABULARY = (
    "the", "gateway", "routes", "each", "request", "to", "a", "model", "and", "records", "one", "event",
    "with", "its", "cost", "latency", "outcome", "so", "that", "teams", "can", "see", "spend", "per",
    "tenant", "app", "workflow", "while", "budgets", "limits", "guardrails", "keep", "traffic", "safe",
    "under", "load", "when", "provider", "fails", "fallback", "chain", "picks", "next", "target",
    "circuit", "breaker", "opens", "until", "probes", "succeed", "again", "summary", "answer",
    "context", "policy", "token", "stream", "lane",
)


def _build_corpus(words: int = MAX_OUTPUT_TOKENS * 2) -> tuple[str, list[int]]:
    """A long fixed text of space-prefixed words, and where each word starts (plus the end)."""
    state = 2_463_534_242
    parts: list[str] = []
    starts: list[int] = []
    position = 0
    for _ in range(words):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        word = " " + _VOCABULARY[state % len(_VOCABULARY)]
        starts.append(position)
        parts.append(word)
        position += len(word)
    starts.append(position)
    return "".join(parts), starts


_CORPUS, _STARTS = _build_corpus()
_CORPUS_WORDS = len(_STARTS) - 1


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts or Converse content blocks
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def openai_prompt(messages: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """(flattened prompt text, message count) of OpenAI chat messages."""
    lines = [f"{m.get('role', '')}:{_content_text(m.get('content'))}" for m in messages]
    return "\n".join(lines), len(lines)


def converse_prompt(messages: Iterable[Mapping[str, Any]],
                    system: Sequence[Mapping[str, Any]] = ()) -> tuple[str, int]:
    """The same flattening for a Converse request, so equal prompts give equal answers on both wires."""
    lines = [f"system:{_content_text(list(system))}"] if system else []
    lines += [f"{m.get('role', '')}:{_content_text(m.get('content'))}" for m in messages]
    return "\n".join(lines), len(lines)


def count_tokens(text: str, messages: int) -> int:
    """The provider's own token count: about four characters a token plus a little per message."""
    return (len(text) + 3) // 4 + 3 * messages + 3


def prompt_digest(seed: int, model: str, text: str) -> int:
    data = f"{seed}\x00{model}\x00{text}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def output_length(digest: int, model: str, max_tokens: int | None) -> tuple[int, str]:
    """(output tokens, finish reason): lognormal around the model's typical length, cut at max_tokens."""
    profile = latency.profile_for(model)
    u = ((digest & 0xFFFFFFFF) + 0.5) / 2**32
    wanted = max(1, round(profile.output_median_tokens * math.exp(profile.output_sigma * _UNIT.inv_cdf(u))))
    wanted = min(wanted, MAX_OUTPUT_TOKENS)
    limit = DEFAULT_MAX_TOKENS if max_tokens is None else max(1, max_tokens)
    return (limit, "length") if wanted > limit else (wanted, "stop")


@dataclass(slots=True, frozen=True)
class SimResponse:
    """One simulated answer. Times are real milliseconds from receiving the request (including any
    injected latency `added_ms`, which a time-scaled server does not scale); for failures `total_ms` is
    when the error is returned."""

    model: str
    kind: Kind
    status: int
    drop_connection: bool
    input_tokens: int
    output_tokens: int
    finish_reason: str
    ttft_ms: float
    total_ms: float
    digest: int
    added_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def text(self) -> str:
        start = self._start()
        return _CORPUS[_STARTS[start]:_STARTS[start + self.output_tokens]].lstrip(" ")

    def pieces(self, tokens_per_piece: int) -> list[str]:
        """The answer split into stream chunks of `tokens_per_piece` tokens; joined they equal `text`."""
        start, end = self._start(), self._start() + self.output_tokens
        step = max(1, tokens_per_piece)
        pieces = [_CORPUS[_STARTS[i]:_STARTS[min(i + step, end)]] for i in range(start, end, step)]
        if pieces:
            pieces[0] = pieces[0].lstrip(" ")
        return pieces

    def error_message(self) -> str:
        if self.kind == "throttle":
            return f"Too many requests to {self.model} (simulated throttling); please retry later"
        if self.kind == "outage":
            return f"{self.model} is unavailable (simulated outage)"
        return f"{self.model} failed with simulated status {self.status}"

    def _start(self) -> int:
        return (self.digest >> 32) % (_CORPUS_WORDS - self.output_tokens + 1)


class SimulatedModel:
    """A seeded simulated LLM with a mutable fault set. Not thread-safe: one loop or thread owns it."""

    def __init__(self, seed: int = 0, faults: FaultSet | None = None,
                 profiles: Mapping[str, latency.LatencyProfile] = latency.PROFILES) -> None:
        self.seed = seed
        self.faults = faults if faults is not None else FaultSet()
        self.profiles = profiles
        self._occurrences: dict[int, int] = {}

    def respond(self, model: str, messages: Iterable[Mapping[str, Any]], max_tokens: int | None, now: float,
                rng: random.Random | None = None) -> SimResponse:
        """Answer an OpenAI-style chat request."""
        text, count = openai_prompt(messages)
        return self.respond_to_prompt(model, text, count, max_tokens, now, rng)

    def respond_to_prompt(self, model: str, text: str, messages: int, max_tokens: int | None, now: float,
                          rng: random.Random | None = None) -> SimResponse:
        digest = prompt_digest(self.seed, model, text)
        return self.respond_to(model, input_tokens=count_tokens(text, messages), digest=digest,
                               max_tokens=max_tokens, now=now, rng=rng or self._rng_for(digest))

    def respond_to(self, model: str, input_tokens: int, digest: int, max_tokens: int | None, now: float,
                   rng: random.Random) -> SimResponse:
        """The core, for callers that know the token count and bring their own generator (the simulator,
        which passes them positionally: keywords cost ~35 ns each per request)."""
        decision: Decision = self.faults.decide(model, rng, now)
        output_tokens, finish = output_length(digest, model, max_tokens)
        ttft, total = latency.sample(model, input_tokens, output_tokens, rng, self.profiles)
        added = decision.added_latency_ms
        if decision.kind != "ok":
            delay = added + (1.0 if decision.kind == "outage" else ttft * 0.25)
            return SimResponse(model, decision.kind, decision.status, decision.drop_connection,
                               input_tokens, 0, "error", delay, delay, digest, added)
        return SimResponse(model, "ok", 200, False, input_tokens, output_tokens, finish, added + ttft,
                           added + total, digest, added)

    def _rng_for(self, digest: int) -> random.Random:
        """A generator per (prompt, how many times it was seen): order-independent across different
        prompts, so concurrent traffic stays reproducible."""
        if len(self._occurrences) >= _OCCURRENCE_CAP:
            self._occurrences.clear()
        n = self._occurrences.get(digest, 0)
        self._occurrences[digest] = n + 1
        return random.Random(digest ^ (n * 0x9E3779B97F4A7C15) ^ (self.seed << 1))
