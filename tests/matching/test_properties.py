"""Properties of the streaming matcher: split invariance and the holdback guarantee."""

from __future__ import annotations

import random
from functools import cache
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.matching.catalogue import Catalogue, Policy, Rule, Work
from proxy.matching.engines import build_matcher
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher
from proxy.scan import scan_text
from tests.conftest import GUTENBERG, SPEECHES, need_corpora
from tests.matching.corpus_text import detokenise

MIN_WORDS = 8
BOOKS = ["austen-persuasion", "carroll-alice", "blake-poems"]
ODD = ["e\u0301", "👩\u200d💻", "日本語", "\u00ad", "\u200b", "ﬁ", "’", "\r\n", "—"]


@cache
def small_world() -> tuple[Matcher, list[list[str]], list[str], frozenset[tuple[str, ...]]]:
    """A small catalogue (slices of three books), its sentences, clean text and every m-gram."""
    need_corpora()
    works, sentences = [], []
    for book in BOOKS:
        tokens = (GUTENBERG / f"{book}.txt").read_text(encoding="utf-8").split()[:6000]
        works.append(Work(id=book, text=" ".join(tokens)))
        sentences.append(detokenise(" ".join(tokens)).split(" "))
    policy = Policy(default=Rule(min_words=MIN_WORDS))
    index = build_matcher(Catalogue(tuple(works), policy, "small"))
    grams: set[tuple[str, ...]] = set()
    for work in works:
        norms = [w for w, _, _ in words(work.text)]
        grams.update(tuple(norms[i : i + MIN_WORDS]) for i in range(len(norms) - MIN_WORDS + 1))
    clean = (SPEECHES / "inaugural" / "1961-Kennedy.txt").read_text(encoding="utf-8").split(" ")
    return index, sentences, clean, frozenset(grams)


@st.composite
def mixed_text(draw: st.DrawFn) -> str:
    """Clean speech, protected runs of random length and odd characters, interleaved."""
    _, sentences, clean, _ = small_world()
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["clean", "protected", "odd"]))
        if kind == "clean":
            at = draw(st.integers(0, len(clean) - 40))
            parts.append(" ".join(clean[at : at + draw(st.integers(1, 40))]))
        elif kind == "protected":
            book = draw(st.sampled_from(sentences))
            at = draw(st.integers(0, len(book) - 60))
            parts.append(" ".join(book[at : at + draw(st.integers(3, 60))]))
        else:
            parts.append(draw(st.sampled_from(ODD)))
    return draw(st.sampled_from([" ", "\n", " — ", ""])).join(parts)


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=max(1, len(text) // 3))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def stream(index: Matcher, deltas: list[str]) -> list[Finding]:
    session = index.session()
    found: list[Finding] = []
    for d in deltas:
        found += session.feed(d)
    return found + session.flush()


def protected_runs(text: str) -> list[tuple[str, ...]]:
    """Every min_words window of ``text`` that occurs in the catalogue (an independent oracle)."""
    grams = small_world()[3]
    norms = [w for w, _, _ in words(text)]
    windows = (tuple(norms[i : i + MIN_WORDS]) for i in range(len(norms) - MIN_WORDS + 1))
    return [w for w in windows if w in grams]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.data(), text=mixed_text())
def test_findings_do_not_depend_on_how_output_is_split(data: st.DataObject, text: str) -> None:
    """Any split of the output into deltas gives exactly the findings of the whole text."""
    index = small_world()[0]
    assert stream(index, data.draw(splits(text))) == scan_text(index, text)


@SETTINGS
@given(data=st.data(), text=mixed_text(), action=st.sampled_from(["block", "redact"]))
def test_released_text_never_contains_a_protected_run(
    data: st.DataObject, text: str, action: str
) -> None:
    """Releasing only safe text, then blocking or redacting, never leaks min_words words."""
    index = small_world()[0]
    session = index.session()
    released, done, fed = [], 0, 0
    settled: list[Finding] = []
    for delta in data.draw(splits(text)):
        fed += len(delta)
        settled += session.feed(delta)
        if action == "block" and (settled or session.open_findings()):
            cut = min(f.start for f in settled + session.open_findings())
            released.append(text[done : max(done, min(cut, session.safe_until))])
            break
        safe = session.safe_until
        for f in sorted(settled, key=lambda f: f.start):
            if f.start < safe:  # up to stride-1 leading words may be out already
                released.append(text[done : max(done, f.start)] + "[…]")
                done = max(done, f.end)
        settled = [f for f in settled if f.start >= safe]
        released.append(text[done:safe])
        done = max(done, safe)
    else:
        for f in sorted(settled + session.flush(), key=lambda f: f.start):
            if action == "block":
                released.append(text[done : f.start])
                done = len(text)
                break
            released.append(text[done : max(done, f.start)] + "[…]")
            done = max(done, f.end)
        released.append(text[done:])
    assert protected_runs("".join(released)) == []


def test_oracle_sees_protected_runs() -> None:
    """The oracle used above does find a planted run (so the property can fail)."""
    _, sentences, _, _ = small_world()
    assert protected_runs("Well, " + " ".join(sentences[1][100:120]))


def test_clean_text_is_held_back_only_briefly() -> None:
    """On clean text, held-back words after each 4-character delta stay few (p50 <= 2)."""
    index = small_world()[0]
    text = " ".join(small_world()[2])
    session, held = index.session(), []
    rng = random.Random(7)
    i = 0
    while i < len(text):
        step = rng.randint(1, 8)
        session.feed(text[i : i + step])
        i += step
        held.append(len(words(text[session.safe_until : i])))
    held.sort()
    assert held[len(held) // 2] <= 2 and held[int(len(held) * 0.99)] <= 8
