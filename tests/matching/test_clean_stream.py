"""The character pass fed in pieces gives exactly what it gives on the whole text."""

from __future__ import annotations

from itertools import pairwise

import regex
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


# Letters the rules (the ``regex`` module's tables) know and Python's own do not (newer
# Unicode than Python 3.11's 14.0): a few of each block, Armenian to CJK extension H.
_LETTER = regex.compile(r"\p{L}")
NEWER = [c for c in map(chr, range(0x0500, 0x32000)) if _LETTER.match(c) and not c.isalpha()]
NEWER = NEWER[:: max(1, len(NEWER) // 40)] or ["a"]  # no such letters: the test still runs


@settings(max_examples=300, deadline=None)
@given(
    letters=st.lists(st.sampled_from([*NEWER, "a", "é", "b"]), min_size=1, max_size=6),
    sep=st.sampled_from([" ", ".", ". "]),
    around=st.sampled_from(["", "say ", "\n", "x "]),
    after=st.sampled_from(["", " now", ".", " x", " b c"]),
    data=st.data(),
)
def test_spaced_letters_python_does_not_know_are_joined_in_any_split(
    letters: list[str], sep: str, around: str, after: str, data: st.DataObject
) -> None:
    """A spaced-out run of letters newer than Python's tables is joined as on the whole text."""
    text = around + sep.join(letters) + after
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    cleaner, got = Cleaner(), []
    for a, b in pairwise([0, *cuts, len(text)]):
        got += cleaner.feed(text[a:b])
    got += cleaner.feed("", final=True)
    assert "".join(p[0] for p in got) == clean(text)[0]
