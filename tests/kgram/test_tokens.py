"""The build's fast word splitter gives exactly what ``normalize.words`` gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.matching.kgram.tokens import catalogue_words, tokenise
from proxy.matching.normalize import words
from tests.conftest import GUTENBERG, SPEECHES, need_corpora

PIECES = ["don't", "do n't", "it 's", "rock-'n'-roll", "N'T", "o'er", "x-", "'s", "\n's", "\nn't"]
PIECES += ["a" * 70, "ſ", "é", "\u200b", "’s", "日本", "\t", "  ", "\n", "--", "-", "'", "9"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "word", "Sea", " ", "n"]), max_size=30))
def test_generated_text_splits_the_same(parts: list[str]) -> None:
    """Contractions, hyphens, line breaks, overlong and non-ASCII words, in any order."""
    text = "".join(parts)
    assert catalogue_words(text) == [n for n, _, _ in words(text)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_any_ascii_text_splits_the_same(text: str) -> None:
    """Every ASCII character, control characters included."""
    assert catalogue_words(text) == [n for n, _, _ in words(text)]


@pytest.mark.parametrize("name", ["gutenberg", "speeches"])
def test_corpora_split_the_same(name: str) -> None:
    """The shared corpora (books and speeches), and each with curly quotes put in."""
    need_corpora()
    folder = GUTENBERG if name == "gutenberg" else SPEECHES / "inaugural"
    for path in sorted(folder.glob("*.txt"))[:6]:
        text = path.read_text(encoding="utf-8")[:200_000]
        assert catalogue_words(text) == [n for n, _, _ in words(text)]
        curly = text.replace("'", "\u2019", 50)
        assert catalogue_words(curly) == [n for n, _, _ in words(curly)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([*PIECES, "21", "theQuick", "½", " ", "word"]), max_size=12),
        max_size=5,
    )
)
def test_a_batch_gives_each_text_its_words(texts: list[list[str]]) -> None:
    """The build's batches: ids and per-text counts, words of several forms included."""
    joined = ["".join(t) for t in texts]
    vocab, ids, lens = tokenise(joined)
    assert lens.tolist() == [len(catalogue_words(t)) for t in joined]
    assert [vocab[i] for i in ids.tolist()] == [w for t in joined for w in catalogue_words(t)]
