"""What the guardrails scan costs on adversarial prompts: RE2 (the gateway's engine) against plain `re`.

    .venv/bin/python benchmarks/guardrails.py [--size 1000000] [--runs 3]

For each input the best of ``--runs`` timings of the gateway's full scan (fold, deny set, every PII
detector) is printed, and for the two attacks of issue 13 the same pattern on Python's backtracking
``re``: that side is timed on a smaller input (``--re-size``, 24 characters for the nested pattern)
and scaled by its growth, because a full megabyte takes hours.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from gateway_shim.config.loader import DEMO_CONFIG, load_config
from gateway_shim.config.models import DenyPattern, PiiRedaction
from gateway_shim.policy.guardrails import DenyList, Redactor

BACKTRACKING_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def best_ms(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--re-size", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = load_config(DEMO_CONFIG)
    redactor = Redactor(PiiRedaction())
    deny = DenyList(config.guardrails.deny_patterns)
    nested = DenyList([DenyPattern(name="nested", regex="(a+)+$")])
    nested_re = re.compile("(a+)+$")

    def scan(text: str) -> None:
        deny.first_match(text)
        redactor.redact_text(text, set())

    def email_re_ms(n: int) -> str:
        """The backtracking e-mail pattern grows as n^2: time --re-size characters, scale up."""
        small_ms = best_ms(1, lambda: BACKTRACKING_EMAIL.search("a" * args.re_size + "@!"))
        return f"{small_ms * (n / args.re_size) ** 2:,.0f}"

    def nested_re_ms(n: int) -> str:
        """``(a+)+$`` grows as 2^n on a backtracking engine: 24 characters already take seconds."""
        return f"{best_ms(1, lambda: nested_re.search('a' * 24 + '!')):,.0f} @ 24 chars"

    n = args.size
    cases: list[tuple[str, str, Callable[[str], object], Callable[[int], str] | None]] = [
        ("email: 'a'*n + '@!'", "a" * n + "@!", scan, email_re_ms),
        ("deny (a+)+$: 'a'*n + '!'", "a" * n + "!", nested.first_match, nested_re_ms),
        ("digits and spaces: '1 '*(n/2)", "1 " * (n // 2), scan, None),
        ("cards: '4111 1111 1111 1111 '*(n/20)", "4111 1111 1111 1111 " * (n // 20), scan, None),
        ("non-ASCII: 'ａ'*n", "ａ" * n, scan, None),
        ("plain English", ("Summarise the refund policy in two lines. " * (n // 42 + 1))[:n], scan, None),
    ]
    print(f"{'input':40} {'chars':>9} {'RE2 scan ms':>12} {'backtracking re ms':>22}")
    for label, text, work, backtracking in cases:
        ms = best_ms(args.runs, lambda work=work, text=text: work(text))
        shown = backtracking(len(text)) if backtracking is not None else "-"
        print(f"{label:40} {len(text):>9,} {ms:>12.1f} {shown:>22}")


if __name__ == "__main__":
    main()
