"""Findings against the real gutenberg catalogue: planted excerpts, clean speeches."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.matching.engines import load_matcher
from proxy.matching.normalize import words
from proxy.matching.seam import Matcher
from proxy.rules import load_rules
from proxy.scan import scan_text
from tests.conftest import GUTENBERG, SPEECHES
from tests.matching.corpus_text import excerpt

CYRILLIC = str.maketrans("aeopcx", "аеорсх")


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def every_word(text: str, fn: Callable[[str], str]) -> str:
    return " ".join(fn(w) for w in text.split(" "))


FORMS: dict[str, Callable[[str], str]] = {
    "as is": lambda t: t,
    "upper case": str.upper,
    "punctuation removed": lambda t: "".join(c for c in t if c.isalnum() or c == " "),
    "punctuation changed": lambda t: t.replace(",", ";").replace(".", "!").replace(" ", ", "),
    "smart quotes and dashes": lambda t: t.replace("'", "’").replace('"', "“").replace(" ", " — "),
    "line breaks": lambda t: every_word(t, lambda w: w + "\n"),
    "markdown": lambda t: "- > **" + t.replace(" ", "** _", 3).replace(" ", "\n> ", 2) + "_",
    "zero-width characters": lambda t: every_word(t, lambda w: "\u200b".join(w)),
    "homoglyphs": lambda t: t.translate(CYRILLIC),
    "full-width letters": fullwidth,
    "odd whitespace": lambda t: t.replace(" ", "\u00a0\t\u2003"),
    "soft hyphens": lambda t: every_word(t, lambda w: w[:2] + "\u00ad" + w[2:]),
}
BOOKS = [
    "austen-emma",
    "melville-moby_dick",
    "carroll-alice",
    "shakespeare-hamlet",
    "whitman-leaves",
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("book", BOOKS)
def test_planted_excerpt_is_found_under_each_form_change(
    gutenberg_index: Matcher, book: str, form: str
) -> None:
    """A 12+-word excerpt in other text is found, whatever its form, with a span that covers it."""
    rng = random.Random(f"{book}{form}")
    raw = excerpt(GUTENBERG / f"{book}.txt", rng.randrange(1000, 20000), rng.randrange(12, 40))
    planted = FORMS[form](raw)
    before, after = "So I told my friend about it. ", " That was all I could remember today."
    text = before + planted + after
    found = scan_text(gutenberg_index, text)
    span = words(planted)
    first, last = len(before) + span[0][1], len(before) + span[-1][2]
    assert [f.work for f in found] == [book]
    assert found[0].start <= first and found[0].end >= last
    assert found[0].words >= 12


def test_quotes_shorter_than_min_words_are_not_findings(gutenberg_index: Matcher) -> None:
    """An 11-word quote from a book is below min_words and gives no finding."""
    quote = excerpt(GUTENBERG / "austen-emma.txt", 5000, 11)
    assert scan_text(gutenberg_index, f"Zebras xylophone: {quote} quixotic vortex.") == []


@pytest.mark.parametrize("folder", ["inaugural", "state_union"])
def test_speeches_do_not_reproduce_the_books(gutenberg_index: Matcher, folder: str) -> None:
    """Clean text (speeches) gives no finding against the books at 12 words."""
    for path in sorted((SPEECHES / folder).glob("*.txt")):
        assert scan_text(gutenberg_index, path.read_text(encoding="utf-8")) == [], path.name


def test_finding_reports_work_and_source_span(gutenberg_index: Matcher) -> None:
    """A finding names the work and the word span of the source it reproduces."""
    tokens = (GUTENBERG / "carroll-alice.txt").read_text(encoding="utf-8")
    text = excerpt(GUTENBERG / "carroll-alice.txt", 2000, 30)
    (found,) = scan_text(gutenberg_index, text)
    source_words = [w for w, _, _ in words(tokens)]
    assert found.work == "carroll-alice" and found.words == 30
    assert source_words[found.source_start : found.source_end] == [w for w, _, _ in words(text)]


def test_unspaced_script_work_is_matched_per_character(tmp_path: Path) -> None:
    """A Chinese work is found when reproduced, one ideograph a word, at original offsets."""
    work = "床前明月光疑是地上霜举头望明月低头思故乡"
    (tmp_path / "poem.txt").write_text(work, encoding="utf-8")
    index, _ = load_matcher(load_rules(tmp_path), None)
    text = "这首诗是：" + work[2:16] + "。"
    (found,) = scan_text(index, text)
    assert (found.start, found.end, found.words) == (5, 19, 14)
    assert scan_text(index, "这首诗是：" + work[2:12] + "。") == []
