"""The k-gram index engine against the automaton engine: any difference fails."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.matching.catalogue import Action, Boilerplate, Catalogue, Policy, Rule, Work
from proxy.matching.engines import short_runs
from proxy.matching.seam import Matcher, scan_once
from proxy.rules import load_rules
from tests.conftest import GUTENBERG, SPEECHES, need_corpora
from tests.kgram.support import both, transcript
from tests.matching.corpus_text import detokenise

VOCAB = ["the", "sea", "was", "calm", "and", "grey", "o'er", "don't", "Ship", "ſea", "日本", "x"]


@st.composite
def catalogue_and_output(draw: st.DrawFn) -> tuple[Catalogue, list[str]]:
    """A few works over a tiny vocabulary (so windows repeat), and output cut into pieces."""
    n_works = draw(st.integers(1, 4))
    shared = " ".join(draw(st.lists(st.sampled_from(VOCAB), min_size=8, max_size=12)))
    texts = [
        " ".join(draw(st.lists(st.sampled_from([*VOCAB, shared]), min_size=1, max_size=80)))
        for _ in range(n_works)
    ]
    min_words = draw(st.integers(1, 9))
    action = draw(st.sampled_from([Action.BLOCK, Action.LOG]))
    works = tuple(
        Work(id=f"w{i}", text=t, collection=draw(st.sampled_from(["", "c"])))
        for i, t in enumerate(texts)
    )
    gap = draw(st.integers(0, 3))  # near-verbatim runs (0: exact runs only)
    share = draw(st.sampled_from([0.6, 0.8, 1.0]))
    collections = {"c": Rule(min_words + draw(st.integers(0, 3)), action, max_gap_words=gap)}
    allow = tuple(draw(st.lists(st.sampled_from(texts), max_size=1)))
    phrases = tuple(" ".join(t.split()[2:9]) for t in allow)
    boiler = Boilerplate(min_works=draw(st.sampled_from([0, 2, 3])), builtin=draw(st.booleans()))
    default = Rule(min_words, action, max_gap_words=gap, min_share=share)
    policy = Policy(default, collections, phrases, boilerplate=boiler)
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            src = draw(st.sampled_from(texts)).split()
            at = draw(st.integers(0, len(src) - 1))
            parts.extend(src[at : at + draw(st.integers(1, 40))])
        elif draw(st.booleans()):
            parts.extend(draw(st.lists(st.sampled_from([*VOCAB, "cat", "zz"]), max_size=10)))
        else:  # a protected stretch with a word changed, dropped or put in: near-verbatim
            src = draw(st.sampled_from(texts)).split()
            at = draw(st.integers(0, len(src) - 1))
            run = src[at : at + draw(st.integers(5, 30))]
            edit = draw(st.integers(0, len(run)))
            run[edit:edit] = draw(st.lists(st.sampled_from(["cat", "zz"]), max_size=2))
            parts.extend(run)
    text = draw(st.sampled_from([" ", "\n", ", "])).join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return Catalogue(works, policy, "hypothesis"), pieces


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogue_and_output())
def test_generated_catalogues_answer_the_same(case: tuple[Catalogue, list[str]]) -> None:
    """Findings, safe offsets and open state agree after every piece of every stream."""
    catalogue, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        aho, kgram = both(catalogue, Path(tmp) / "i.idx")
        assert transcript(kgram, pieces) == transcript(aho, pieces)
        assert kgram.word_count == aho.word_count
        assert kgram.max_min_words == aho.max_min_words
        assert kgram.boilerplate_runs == aho.boilerplate_runs


@pytest.fixture(scope="module")
def gutenberg_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Matcher, Matcher]:
    """Both engines over the 17-book gutenberg catalogue."""
    need_corpora()
    return both(load_rules(GUTENBERG), tmp_path_factory.mktemp("kgram") / "gutenberg.idx")


def _mixed_texts(seed: int, count: int) -> list[str]:
    """Clean speeches with gutenberg excerpts of 3 to 60 words planted in some."""
    rng = random.Random(seed)
    books = sorted(GUTENBERG.glob("*.txt"))
    speeches = sorted((SPEECHES / "inaugural").glob("*.txt"))
    out = []
    for _ in range(count):
        clean = rng.choice(speeches).read_text(encoding="utf-8").split()
        at = rng.randrange(max(1, len(clean) - 200))
        text = clean[at : at + rng.randrange(20, 200)]
        if rng.random() < 0.7:
            book = rng.choice(books).read_text(encoding="utf-8").split()
            b = rng.randrange(len(book) - 80)
            where = rng.randrange(len(text))
            text[where:where] = [detokenise(" ".join(book[b : b + rng.randrange(3, 60)]))]
        out.append(" ".join(text))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gutenberg_planted_and_clean_text_answer_the_same(
    seed: int, gutenberg_pair: tuple[Matcher, Matcher]
) -> None:
    """The 17-book catalogue: planted excerpts and clean speeches, streamed in small pieces."""
    aho, kgram = gutenberg_pair
    found = 0
    for text in _mixed_texts(seed, 40):
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
        expected = transcript(aho, pieces)
        assert transcript(kgram, pieces) == expected
        assert scan_once(kgram, text) == scan_once(aho, text)
        found += sum(len(f) for f, _, _ in expected)
    assert found > 5  # the planted excerpts long enough to count were found


def test_whole_gutenberg_books_are_found_the_same(gutenberg_pair: tuple[Matcher, Matcher]) -> None:
    """Long verbatim stretches (whole chapters) give the same findings, offsets and sources."""
    aho, kgram = gutenberg_pair
    for book in sorted(GUTENBERG.glob("*.txt"))[::4]:
        text = detokenise(" ".join(book.read_text(encoding="utf-8").split()[1000:4000]))
        assert scan_once(kgram, text) == scan_once(aho, text) != []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogue_and_output(), st.sampled_from([3, 6]))
def test_short_run_forms_answer_the_same(case: tuple[Catalogue, list[str]], run: int) -> None:
    """Budgets' and context checks' matcher (runs of ``run`` words) agrees with the automaton's."""
    catalogue, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        aho, kgram = both(catalogue, Path(tmp) / "i.idx", short_run=run)
        short_aho, short_kgram = short_runs(aho, run), short_runs(kgram, run)
        assert short_aho is not None and short_kgram is not None
        assert short_runs(kgram, run) is short_kgram  # memoised
        assert short_runs(kgram, run + 1) is None  # no windows for that length
        assert transcript(short_kgram, pieces) == transcript(short_aho, pieces)
        assert short_kgram.max_min_words == short_aho.max_min_words
        assert short_kgram.boilerplate_runs == short_aho.boilerplate_runs


def test_gutenberg_short_runs_answer_the_same(gutenberg_pair: tuple[Matcher, Matcher]) -> None:
    """Runs of 6 words over the 17 books: planted excerpts and clean speeches."""
    short = [short_runs(m, 6) for m in gutenberg_pair]
    assert short[0] is not None and short[1] is not None
    for text in _mixed_texts(4, 25):
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
        assert transcript(short[1], pieces) == transcript(short[0], pieces)
