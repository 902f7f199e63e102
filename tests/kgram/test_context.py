"""Both engines under a context-seeded session: the request's seal and strict mode hold alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.matching.context import ContextSession
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
