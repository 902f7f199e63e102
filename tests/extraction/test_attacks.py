"""The extraction attacks of many small requests, against the default policy."""

from __future__ import annotations

from functools import partial
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
    responses_by_reference,
    responses_with_history,
)
from tests.proxy.harness import StartStack

BUDGET = 100  # the default budget_words
LEAD = "Sure, here is how it goes on:"
# (name, attack, words a request, at most this many words of the work in twenty requests)
CASES: list[tuple[str, Attack, int, int]] = [
    ("continue-with-history", continue_with_history, SLICE, 24),
    ("quote-the-last-words", quote_the_last_words, SLICE, 12),
    ("anthropic-prefill", anthropic_prefill, SLICE, 12),
    ("ask-for-slices", ask_for_slices, SLICE, BUDGET + SLICE),
    ("responses-with-history", responses_with_history, SLICE, 24),
    ("responses-by-reference", responses_by_reference, SLICE, 24),
    # other pacing: four words a request, each reply alone no run of budget_min_run words
    ("continue-with-history-4", continue_with_history, 4, 24),
    ("quote-the-last-words-4", quote_the_last_words, 4, 12),
    ("anthropic-prefill-4", anthropic_prefill, 4, 12),
    # a model that says something first: the words do not follow the request's text at once
    ("continue-with-history-lead", partial(continue_with_history, lead=LEAD), SLICE, 24),
    ("quote-the-last-words-lead", partial(quote_the_last_words, lead=LEAD), SLICE, 12),
    ("anthropic-prefill-lead", partial(anthropic_prefill, lead=LEAD), SLICE, 12),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(("name", "attack", "size", "most"), CASES, ids=[c[0] for c in CASES])
async def test_attack_gets_at_most(
    start_stack: StartStack,
    book: Path,
    name: str,
    attack: Attack,
    size: int,
    most: int,
    stream: bool,
) -> None:
    """Twenty requests of a few words each get no more of the work than the Done-when bound."""
    stack = await start_stack(rules=book, demo=DemoSettings(rules_dir=book, delay_ms=0))
    tally = await attack(stack.proxy, f"sk-{name}", stream, size)
    print(name, "stream" if stream else "whole", tally.words, tally.signals)
    assert tally.words <= most, tally.texts
    assert tally.words >= size  # the first answer, with nothing before it, goes through
