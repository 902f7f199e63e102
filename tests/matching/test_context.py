"""Context-seeded sessions: a run begun in the request goes on in the answer as one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.dialects.base import Conversation
from proxy.matching.catalogue import Action
from proxy.matching.context import ContextSession, analyse, carried
from proxy.matching.engines import build_matcher, short_runs
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher
from proxy.rules import load_rules
from tests.conftest import SAMPLE_RULES

POEM = (SAMPLE_RULES / "poems/lighthouse-keeper.txt").read_text().split("---\n", 2)[2]
SPANS = [(s, e) for _, s, e in words(POEM)]


def cut(a: int, b: int) -> str:
    """Words [a, b) of the poem, as written."""
    return POEM[SPANS[a][0] : SPANS[b - 1][1]]


def feed_in_pieces(session: ContextSession, text: str, size: int) -> tuple[list[Finding], str]:
    """Feed ``text`` ``size`` characters at a time, releasing only what is safe."""
    found: list[Finding] = []
    released = 0
    for i in range(0, len(text), size):
        found += session.feed(text[i : i + size])
        found += [f for f in session.open_findings() if f not in found]
        if any(f.action is Action.BLOCK for f in found):
            return found, text[: min(released, min(f.start for f in found))]
        released = max(released, session.safe_until)
    found += session.flush()
    return found, text if not found else text[: min(f.start for f in found)]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return build_matcher(load_rules(SAMPLE_RULES))


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_continuation_is_blocked_at_its_first_new_word(matcher: Matcher, size: int) -> None:
    """Seeded with words 0-10, an answer of words 11-18 releases none of them."""
    session = ContextSession(matcher, cut(0, 11))
    found, released = feed_in_pieces(session, cut(11, 19), size)
    assert found and found[0].work == "poems/lighthouse-keeper"
    assert released == ""


def test_a_run_wholly_in_the_request_is_no_finding(matcher: Matcher) -> None:
    """The request's own protected text, then a clean answer: nothing found, all released."""
    session = ContextSession(matcher, cut(0, 40))
    answer = "The poem is about keeping a light for others."
    found, released = feed_in_pieces(session, answer, 5)
    assert found == [] and released == answer


@pytest.mark.parametrize(("echo", "blocked"), [("allow", False), ("block", True)])
def test_repeating_the_request_follows_echo(tmp_path: Path, echo: str, blocked: bool) -> None:
    """An answer quoting 20 words the request carries: found only under echo = block."""
    rules = tmp_path / "rules"
    (rules / "poems").mkdir(parents=True)
    (rules / "poems" / "lighthouse-keeper.txt").write_text(POEM)
    (rules / "policy.toml").write_text(f'echo = "{echo}"\n')
    m = build_matcher(load_rules(rules))
    session = ContextSession(m, cut(0, 60))
    found, _ = feed_in_pieces(session, "It says: " + cut(10, 30) + ". Lovely.", 4)
    assert bool(found) is blocked


def test_going_past_the_pasted_text_is_no_echo(matcher: Matcher) -> None:
    """Quoting the request and going on past its end is found, even under echo = allow."""
    session = ContextSession(matcher, cut(0, 30))
    found, _ = feed_in_pieces(session, "It says: " + cut(15, 40), 4)
    assert [f.work for f in found] == ["poems/lighthouse-keeper"]


def test_seed_keeps_the_protected_pieces_in_order_and_the_tail_last(matcher: Matcher) -> None:
    """Turns shrink to their protected pieces; replies are searched joined, so short replies
    that continue each other are one run; the tail comes last, whole at its end."""
    short = short_runs(matcher, 6)
    assert short is not None
    turns = (f"Recite it. {cut(0, 8)}", "continue")
    replies = (cut(8, 12), cut(12, 16))  # four words each: a run only together
    seed, found = analyse(short, Conversation(turns, replies, f"So: {cut(16, 20)}"), 12)
    assert carried(found) == {"poems/lighthouse-keeper": 16}  # the tail's 4 words: no run

    def norm(text: str) -> list[str]:
        return [w for w, _, _ in words(text)]

    assert norm(seed) == norm(cut(0, 8)) + norm(cut(8, 16)) + norm(f"So: {cut(16, 20)}")


def test_carried_counts_distinct_words_per_work(matcher: Matcher) -> None:
    """Overlapping findings of one work count each word once."""
    short = short_runs(matcher, 6)
    assert short is not None
    session = short.session()
    found = session.feed(cut(0, 10) + " and then " + cut(5, 20)) + session.flush()
    assert carried(found) == {"poems/lighthouse-keeper": 20}
