"""Both engines under a context-seeded session: the request's seal and strict mode hold alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.dialects.base import Conversation
from proxy.matching.context import ContextSession, analyse, carried
from proxy.matching.engines import short_runs
from proxy.matching.kgram.layered import Layered
from proxy.matching.seam import Matcher
from proxy.rules import load_rules
from tests.kgram.support import both
from tests.matching.test_context import POEM, cut, feed_in_pieces

ANSWERS = {
    "quotes the request after a lead-in": ("It says: " + cut(10, 30) + ". Lovely.", False),
    "goes on from the request's end": (cut(60, 75), True),
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Matcher]:
    rules = tmp_path_factory.mktemp("rules")
    (rules / "poems").mkdir()
    (rules / "poems" / "lighthouse-keeper.txt").write_text(POEM)
    aho, kgram = both(load_rules(rules), Path(tmp_path_factory.mktemp("idx")) / "poem.idx")
    return {"aho": aho, "kgram": kgram, "layered": Layered([kgram, aho])}


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("engine", ["aho", "kgram", "layered"])
@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_engines_judge_echo_and_continuation_alike(
    engines: dict[str, Matcher], engine: str, case: str, strict: bool
) -> None:
    """Seeded with words 0-59: an echo after a lead-in passes, a continuation is blocked."""
    answer, blocked = ANSWERS[case]
    session = ContextSession(engines[engine], cut(0, 60), strict)
    found, released = feed_in_pieces(session, answer, 4)
    assert bool(found) is blocked
    if blocked:
        assert released == ""  # not one new word of the continuation got out


def test_short_run_forms_carry_what_the_automatons_carries(engines: dict[str, Matcher]) -> None:
    """With an index, budgets and context pieces have their short-run matcher too, and it
    finds the runs the automaton engine's finds; an index beside a segment has one too."""
    expected, short = short_runs(engines["aho"], 6), short_runs(engines["kgram"], 6)
    assert expected is not None and short is not None
    turns = (f"Recite it. {cut(0, 8)}", "continue")
    conversation = Conversation(turns, (cut(8, 12), cut(12, 16)), f"So: {cut(16, 20)}")
    assert analyse(short, conversation, 12) == analyse(expected, conversation, 12)
    text = cut(0, 10) + " and then " + cut(5, 20)
    got = [s.feed(text) + s.flush() for s in (short.session(), expected.session())]
    assert carried(got[0]) == carried(got[1]) == {"poems/lighthouse-keeper": 20}
    layered = short_runs(engines["layered"], 6)
    assert isinstance(layered, Layered) and layered.parts == (short, expected)
    assert short_runs(engines["layered"], 6) is layered
