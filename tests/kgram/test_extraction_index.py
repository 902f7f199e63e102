"""Extraction across turns and requests with the k-gram index engine (``serve --index``):
budgets and context-seeded checks work through its short form as with the automaton."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.demo import DemoSettings
from proxy.matching.seam import Matcher
from proxy.rules import load_rules
from tests.conftest import need_corpora
from tests.extraction.attacks import (
    SLICE,
    Attack,
    anthropic_prefill,
    ask_for_slices,
    book_rules,
    continue_with_history,
    quote_the_last_words,
)
from tests.extraction.test_attacks import BUDGET
from tests.kgram.support import build_kgram
from tests.proxy.harness import StartStack, stack_factory


@pytest.fixture
async def start_index_stack() -> AsyncIterator[StartStack]:
    """Upstream + proxy pairs whose matcher is an index built from the rules folder."""
    with tempfile.TemporaryDirectory() as tmp:

        def kgram_for(rules: Path) -> Matcher:
            return build_kgram(load_rules(rules), Path(tmp) / "rules.idx")

        async for start in stack_factory(kgram_for):
            yield start


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A rules folder with one gutenberg book and the default policy."""
    need_corpora()
    return book_rules(tmp_path / "rules")


# (name, attack, at most this many words of the work in twenty requests), as with the automaton
CASES: list[tuple[str, Attack, int]] = [
    ("continue-with-history", continue_with_history, 24),
    ("quote-the-last-words", quote_the_last_words, 12),
    ("anthropic-prefill", anthropic_prefill, 12),
    ("ask-for-slices", ask_for_slices, BUDGET + SLICE),
]


@pytest.mark.parametrize(("name", "attack", "most"), CASES, ids=[c[0] for c in CASES])
async def test_attack_on_an_index_gets_at_most(
    start_index_stack: StartStack, book: Path, name: str, attack: Attack, most: int
) -> None:
    """Twenty small requests against ``serve --index`` get no more than the automaton allows."""
    stack = await start_index_stack(rules=book, demo=DemoSettings(rules_dir=book, delay_ms=0))
    tally = await attack(stack.proxy, f"sk-{name}", True, SLICE)
    assert tally.words <= most, tally.texts
    assert tally.words >= SLICE
