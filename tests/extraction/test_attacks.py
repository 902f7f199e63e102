"""The extraction attacks of many small requests, against the default policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.demo import DemoSettings
from tests.extraction.attacks import (
    SLICE,
    Attack,
    anthropic_prefill,
    ask_for_slices,
    continue_with_history,
    quote_the_last_words,
)
from tests.proxy.harness import StartStack

BUDGET = 100  # the default budget_words
CASES: list[tuple[str, Attack, int]] = [
    ("continue-with-history", continue_with_history, 24),
    ("quote-the-last-words", quote_the_last_words, 12),
    ("anthropic-prefill", anthropic_prefill, 12),
    ("ask-for-slices", ask_for_slices, BUDGET + SLICE),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(("name", "attack", "most"), CASES, ids=[c[0] for c in CASES])
async def test_attack_gets_at_most(
    start_stack: StartStack, book: Path, name: str, attack: Attack, most: int, stream: bool
) -> None:
    """Twenty requests of eight words each get no more of the work than the Done-when bound."""
    stack = await start_stack(rules=book, demo=DemoSettings(rules_dir=book, delay_ms=0))
    tally = await attack(stack.proxy, f"sk-{name}", stream)
    print(name, "stream" if stream else "whole", tally.words, tally.signals)
    assert tally.words <= most, tally.texts
    assert tally.words >= SLICE  # the first answer, with nothing before it, goes through
