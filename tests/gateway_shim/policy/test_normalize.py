"""Folding long text in slices gives exactly what folding it whole gives (the slices are cut only
where NFKC allows), so screening a large prompt off the event loop changes no verdict."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_shim.policy import normalize
from gateway_shim.policy.normalize import fold_for_redaction, fold_letters_for_deny, slices

# Characters that compose, decompose, reorder or fold: Latin with combining marks, Hangul jamo and
# syllables, fullwidth forms, Indic vowel signs that compose with what precedes them, zero-width
# characters, other scripts' digits, ligatures, Cyrillic look-alikes.
TRICKY = ("aeoAEO \u0300\u0301\u0308\u0323\u0327\u1100\u1161\u11a8\uac00\uac01"
          "\uff41\uff21\uff10\u0b47\u0b3e\u0b57\u09c7\u09be\u0dd9\u0dcf\u200b\u200d\u0663\u0967\ufb01"
          "\u0430\u0435\u00c5\u212b\u1e9b\u0345")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=TRICKY, min_size=1, max_size=300), size=st.integers(1, 40))
def test_slices_are_cut_where_nfkc_allows(text: str, size: int) -> None:
    pieces = list(slices(text, size))
    assert "".join(pieces) == text
    assert "".join(unicodedata.normalize("NFKC", p) for p in pieces) == unicodedata.normalize("NFKC", text)


def test_a_long_text_folds_in_slices_as_it_folds_whole() -> None:
    text = ("\uff41\u0301 \u0663\u200b\u1100\u1161\u11a8 \u0435xample " * 20_000)
    assert len(text) > normalize.SLICE_CHARS
    whole = unicodedata.normalize("NFKC", text).translate(normalize._UNICODE_FOLD)
    assert fold_for_redaction(text) == whole
    assert fold_letters_for_deny(text) == whole.translate(normalize._LOOKALIKE_FOLD)
    assert fold_letters_for_deny(text).count("a\u0301") == 0 and "example" in fold_letters_for_deny(text)
