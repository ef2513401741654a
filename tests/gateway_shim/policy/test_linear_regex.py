from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_shim.policy.linear_regex import LinearRegex

PATTERNS = [r"\d\d\d", r"[a-z]+@[a-z]+\.[a-z]{2,}", r"\d(?:[ .\-]{0,3}\d)*", r"x?"]
TEXT = st.text(alphabet="ab@.x 123-９é", max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, pattern=st.sampled_from(PATTERNS))
def test_spans_search_and_sub_agree_with_re_on_ascii_and_other_text(text: str, pattern: str) -> None:
    ascii_only = re.compile(pattern, re.ASCII)
    expected = [m.span() for m in ascii_only.finditer(text)]
    regex = LinearRegex(pattern)
    assert regex.spans(text) == expected
    assert regex.search(text) is bool(expected)
    assert regex.sub(lambda found: f"<{found}>", text) == ascii_only.sub(lambda m: f"<{m.group()}>", text)


@pytest.mark.parametrize("text", ["", "no digits", "é no digits"])
def test_sub_without_a_match_returns_the_same_object(text: str) -> None:
    assert LinearRegex(r"\d").sub(lambda found: "#", text) is text
