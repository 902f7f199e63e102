"""Properties of the streaming matcher: split invariance and the holdback guarantee."""

from __future__ import annotations

import random
from functools import cache
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.matching.catalogue import SEED_WORDS, Catalogue, Policy, Rule, Work
from proxy.matching.engines import build_matcher
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher
from proxy.scan import scan_text
from tests.conftest import GUTENBERG, SPEECHES, need_corpora
from tests.matching.corpus_text import detokenise

MIN_WORDS = 8
SEED = min(MIN_WORDS, SEED_WORDS)  # exact stretches the gap rule joins are sure to be found
MAX_GAP = Rule().max_gap_words
BOOKS = ["austen-persuasion", "carroll-alice", "blake-poems"]
ODD = ["e\u0301", "👩\u200d💻", "日本語", "\u00ad", "\u200b", "ﬁ", "’", "\r\n", "—"]
# Forms the character pass and the word folds rewrite (split invariance must hold there too).
ODD += ["and-thou-lt", "was-the", "theWhiteWhale", "t h e", "b.e.e.n", "<b>", "&#110;", "\n12\t"]
ODD += ["\u202eeht\u202c", "pre-\nfer", "21st", "colour", "ⓣⓗⓔ", "don´t", "| 3 |", "ТНЕ"]


@cache
def small_world() -> tuple[
    Matcher, list[list[str]], list[str], frozenset[tuple[str, ...]], list[list[str]]
]:
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
    all_norms = []
    for work in works:
        norms = [w for w, _, _ in words(work.text)]
        all_norms.append(norms)
        grams.update(tuple(norms[i : i + MIN_WORDS]) for i in range(len(norms) - MIN_WORDS + 1))
    clean = (SPEECHES / "inaugural" / "1961-Kennedy.txt").read_text(encoding="utf-8").split(" ")
    return index, sentences, clean, frozenset(grams), all_norms


@st.composite
def mixed_text(draw: st.DrawFn) -> str:
    """Clean speech, protected runs of random length and odd characters, interleaved."""
    _, sentences, clean, _, _ = small_world()
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


def release(index: Matcher, text: str, deltas: list[str], action: str) -> str:
    """What a client gets when only safe text is released and findings block or redact."""
    session = index.session()
    released, done = [], 0
    settled: list[Finding] = []
    for delta in deltas:
        settled += session.feed(delta)
        if action == "block" and (settled or session.open_findings()):
            cut = min(f.start for f in settled + session.open_findings())
            released.append(text[done : max(done, min(cut, session.safe_until))])
            return "".join(released)
        safe = session.safe_until
        for f in sorted(settled, key=lambda f: f.start):
            if f.start < safe:  # up to stride-1 leading words may be out already
                released.append(text[done : max(done, f.start)] + "[…]")
                done = max(done, f.end)
        settled = [f for f in settled if f.start >= safe]
        released.append(text[done:safe])
        done = max(done, safe)
    for f in sorted(settled + session.flush(), key=lambda f: f.start):
        if action == "block":
            released.append(text[done : f.start])
            return "".join(released)
        released.append(text[done : max(done, f.start)] + "[…]")
        done = max(done, f.end)
    released.append(text[done:])
    return "".join(released)


@SETTINGS
@given(data=st.data(), text=mixed_text(), action=st.sampled_from(["block", "redact"]))
def test_released_text_never_contains_a_protected_run(
    data: st.DataObject, text: str, action: str
) -> None:
    """Releasing only safe text, then blocking or redacting, never leaks min_words words."""
    index = small_world()[0]
    assert protected_runs(release(index, text, data.draw(splits(text)), action)) == []


@st.composite
def edited_text(draw: st.DrawFn) -> str:
    """Clean speech and protected runs with a word substituted, dropped or inserted now and then."""
    _, sentences, clean, _, _ = small_world()
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            at = draw(st.integers(0, len(clean) - 30))
            parts.append(" ".join(clean[at : at + draw(st.integers(1, 30))]))
            continue
        book = draw(st.sampled_from(sentences))
        at = draw(st.integers(0, len(book) - 60))
        words_ = book[at : at + draw(st.integers(10, 60))]
        every = draw(st.integers(4, 12))
        out = []
        for i, w in enumerate(words_):
            edit = draw(st.sampled_from(["sub", "drop", "ins", "two"])) if i % every == 0 else ""
            if edit in ("sub", "two"):
                out += clean[i : i + (2 if edit == "two" else 1)]
            elif edit == "ins":
                out += [w, clean[i]]
            elif edit != "drop":
                out.append(w)
        parts.append(" ".join(out))
    return " ".join(parts)


def near_verbatim_runs(text: str) -> list[tuple[int, int]]:
    """Independent oracle: two exact stretches of SEED words of one work, in order, at most
    MAX_GAP words apart on each side (under the gap rule such a pair is a finding), or one
    exact stretch of MIN_WORDS.  Returns the output word offsets where such runs begin."""
    norms = [w for w, _, _ in words(text)]
    hits = []
    for work in small_world()[4]:
        where: dict[tuple[str, ...], list[int]] = {}
        for j in range(len(work) - SEED + 1):
            where.setdefault(tuple(work[j : j + SEED]), []).append(j)
        seeds = [
            (i, j)
            for i in range(len(norms) - SEED + 1)
            for j in where.get(tuple(norms[i : i + SEED]), [])
        ]
        starts = set(seeds)
        for i, j in seeds:
            for di in range(SEED, SEED + MAX_GAP + 1):
                if any((i + di, j + dj) in starts for dj in range(SEED, SEED + MAX_GAP + 1)):
                    hits.append((i, j))
    return hits + [(-1, -1) for _ in protected_runs(text)]


@SETTINGS
@given(data=st.data(), text=edited_text(), action=st.sampled_from(["block", "redact"]))
def test_released_text_never_holds_a_near_verbatim_run(
    data: st.DataObject, text: str, action: str
) -> None:
    """Under the gap rule, released text never holds two seed stretches joined by a gap."""
    index = small_world()[0]
    assert near_verbatim_runs(release(index, text, data.draw(splits(text)), action)) == []


def test_near_verbatim_oracle_sees_an_edited_run() -> None:
    """The gap oracle finds a planted run with one substituted word (so the property can fail)."""
    book = small_world()[1][0]
    run = [*book[200:207], "zebra", *book[208:215]]
    assert near_verbatim_runs("So: " + " ".join(run)) != []
    assert not protected_runs("So: " + " ".join(run))


def test_oracle_sees_protected_runs() -> None:
    """The oracle used above does find a planted run (so the property can fail)."""
    _, sentences, _, _, _ = small_world()
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
