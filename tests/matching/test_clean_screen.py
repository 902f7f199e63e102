"""The rules tried only at screen hits find exactly what trying them everywhere finds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.matching.clean import _RULES, letter_table, rule_matches
from tests.conftest import GUTENBERG, SPEECHES, need_corpora
from tests.matching.test_clean_stream import FRAGMENTS


def _everywhere(text: str, pos: int) -> list[tuple[int, int, str | None]]:
    return [(*m.span(), m.lastgroup) for m in _RULES.finditer(text, pos=pos)]


def _screened(text: str, pos: int) -> list[tuple[int, int, str | None]]:
    return [(*m.span(), m.lastgroup) for m in rule_matches(text, pos)]


@settings(max_examples=600, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([*FRAGMENTS, "\u2010", "\u00ad", "(3)", "[12]", "t.h"]), max_size=50
    ),
    pos=st.integers(0, 6),
)
def test_fragments_match_the_same(parts: list[str], pos: int) -> None:
    """Every form the pass rewrites and its near misses, from any start."""
    text = "".join(parts)
    assert _screened(text, pos) == _everywhere(text, pos)


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=60), pos=st.integers(0, 3))
def test_any_text_matches_the_same(text: str, pos: int) -> None:
    """Arbitrary Unicode, marks and format characters included."""
    text = text.translate(letter_table())  # as ``Cleaner.feed`` sees it
    assert _screened(text, pos) == _everywhere(text, pos)


@pytest.mark.parametrize("folder", ["gutenberg", "speeches"])
def test_corpora_match_the_same(folder: str) -> None:
    """Whole books and speeches, as the build cleans them."""
    need_corpora()
    paths = (
        sorted(GUTENBERG.glob("*.txt"))
        if folder == "gutenberg"
        else sorted(SPEECHES.rglob("*.txt"))[:40]
    )
    for path in paths:
        text = "\n\n" + path.read_text(encoding="utf-8").translate(letter_table())
        assert _screened(text, 2) == _everywhere(text, 2), path.name
