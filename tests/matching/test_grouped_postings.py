"""A window's postings handled as one group (``aho.lone``) answer as posting by posting."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.matching.aho import lone
from proxy.matching.aho.index import MatchIndex
from proxy.matching.catalogue import Action, Boilerplate, Catalogue, Policy, Rule, Work

# Four-word phrases every work is made of (in steps of four words, as its windows are
# loaded), so one window has many postings across works.
PHRASES = [
    "at the end of",
    "in the middle of",
    "one of the most",
    "on the other hand",
    "as a matter of",
]
WORDS = ["river", "lantern", "heron", "ledger", "copper", "meadow", "cat", "zz"]


@st.composite
def crowded_catalogue(draw: st.DrawFn) -> tuple[Catalogue, list[str], bool]:
    """Works sharing common phrases, output quoting them with edits, cut into pieces."""

    def stretch(size: int) -> list[str]:
        out: list[str] = []
        for _ in range(size):
            if draw(st.integers(0, 2)):
                out += draw(st.sampled_from(PHRASES)).split()
            else:
                out += draw(st.lists(st.sampled_from(WORDS), min_size=4, max_size=4))
        return out

    works = tuple(
        Work(id=f"w{i}", text=" ".join(stretch(draw(st.integers(4, 14)))))
        for i in range(draw(st.integers(4, 12)))
    )
    gap = draw(st.integers(1, 3))
    rule = Rule(draw(st.integers(8, 14)), Action.BLOCK, max_gap_words=gap, min_share=0.75)
    boiler = Boilerplate(min_works=draw(st.sampled_from([0, 3])), builtin=False)
    policy = Policy(rule, {}, (), boilerplate=boiler)
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            src = draw(st.sampled_from(works)).text.split()
            at = draw(st.integers(0, len(src) - 1))
            quoted = src[at : at + draw(st.integers(4, 30))]
            for _ in range(draw(st.integers(0, 3))):  # words changed, dropped or put in
                edit = draw(st.integers(0, len(quoted)))
                quoted[edit : edit + draw(st.integers(0, 1))] = draw(
                    st.lists(st.sampled_from(WORDS), max_size=2)
                )
            parts += quoted
        else:
            parts += stretch(draw(st.integers(1, 4)))
    text = " ".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=10)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return Catalogue(works, policy, "crowded"), pieces, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded_catalogue())
def test_grouped_postings_answer_as_one_by_one(case: tuple[Catalogue, list[str], bool]) -> None:
    """Findings, safe offsets and open state after every piece: the same with and without
    grouping (and a sealed request before the answer)."""
    catalogue, pieces, sealed = case
    index = MatchIndex.build(catalogue)

    def run(group_min: int) -> list[object]:
        lone.GROUP_MIN = group_min
        session = index.session()
        out: list[object] = []
        for k, piece in enumerate(pieces):
            found = session.feed(piece)
            if sealed and k == 0:  # the first piece is the request: no edit bridges from it
                session.seal()
            out.append((sorted(found, key=repr), session.safe_until, session.open))
            out.append(sorted(session.open_findings(), key=repr))
        out.append((sorted(session.flush(), key=repr), session.safe_until, session.open))
        return out

    grouped = lone.GROUP_MIN
    try:
        one_by_one = run(1 << 30)
    finally:
        lone.GROUP_MIN = grouped
    assert run(grouped) == one_by_one


def test_a_crowded_window_is_grouped() -> None:
    """The crowded catalogue does make windows with enough postings to be grouped."""
    works = tuple(
        Work(id=f"w{i}", text=f"{PHRASES[0]} {WORDS[i % 6]} {PHRASES[1]}") for i in range(8)
    )
    rule = Rule(12, Action.BLOCK, max_gap_words=2, min_share=0.8)
    policy = Policy(rule, {}, (), boilerplate=Boilerplate(min_works=0, builtin=False))
    index = MatchIndex.build(Catalogue(works, policy, "crowded"))
    session = index.session()
    session.feed("well, at the end of t")  # "of" ends where the next word begins
    assert session._fresh is not None and len(session._fresh.gs) >= lone.GROUP_MIN
