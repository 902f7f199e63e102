"""The character pass fed in pieces gives exactly what it gives on the whole text."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.matching.clean import Cleaner, clean

# Fragments of every form the pass rewrites, and their near misses.
FRAGMENTS = [
    "<b>", "</b>", "<p class='x'>", "<br/>", "<!-- c -->", "<", ">", "&#110;", "&#x6e;",
    "&amp;", "&", ";", "\u202e", "\u202c", "\n", "\r\n", "-", "-\n", "\u00ad\n", "217\t",
    "| 3 |", "|", " ", "  ", ".", ". ", "t", "h", "e", "a", "I", "word", "Whale", "\u200b",
    "e\u0301", "ᴛ", "ⓗ", "🇪", "´", "`", "12", "x",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40), data=st.data())
def test_any_split_gives_the_same_output_and_spans(parts: list[str], data: st.DataObject) -> None:
    """Split invariance of the character pass, spans included; ``held`` never runs ahead."""
    text = "".join(parts)
    whole = clean(text)[1]
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=12)))
    cleaner, got = Cleaner(), []
    for a, b in pairwise([0, *cuts, len(text)]):
        got += cleaner.feed(text[a:b])
        assert cleaner.held <= b
        assert all(p[2] <= cleaner.held for p in got)
    got += cleaner.feed("", final=True)
    assert cleaner.held == len(text)
    # Identity pieces may be cut differently; compare character by character.
    assert _chars(got) == _chars(whole)


def _chars(pieces: list[tuple[str, int, int, bool]]) -> list[tuple[str, int, int]]:
    out = []
    for text, lo, hi, ident in pieces:
        if ident:
            out += [(c, lo + i, lo + i + 1) for i, c in enumerate(text)]
        else:
            out += [(c, lo, hi) for c in text] or [("", lo, hi)]
    return out
