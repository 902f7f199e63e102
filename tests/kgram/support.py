"""Both engines over one catalogue, and a stream driver that records everything they say."""

from __future__ import annotations

from pathlib import Path

from proxy.matching.aho.index import MatchIndex
from proxy.matching.catalogue import Catalogue
from proxy.matching.kgram.build import SHORT_RUN, build_index
from proxy.matching.kgram.engine import KgramMatcher
from proxy.matching.kgram.layout import open_index
from proxy.matching.kgram.tokens import tokenised_batches
from proxy.matching.seam import Finding, Matcher


def build_kgram(
    catalogue: Catalogue, out: Path, strict: bool = False, short_run: int = SHORT_RUN
) -> KgramMatcher:
    """Index ``catalogue`` into ``out`` (in this process) and map it."""
    kept = [w for w in catalogue.works if w.id not in catalogue.policy.allow_works]
    build_index(
        tokenised_batches(kept, sum(len(w.text) for w in kept), 1, lambda *a: None),
        [(w.id, w.display_title, w.collection) for w in kept],
        catalogue.policy,
        catalogue.content_hash,
        out,
        strict=strict,
        short_run=short_run,
    )
    return KgramMatcher(open_index(out))


def both(catalogue: Catalogue, out: Path, short_run: int = SHORT_RUN) -> tuple[Matcher, Matcher]:
    return MatchIndex.build(catalogue), build_kgram(catalogue, out, short_run=short_run)


def transcript(matcher: Matcher, pieces: list[str]) -> list[tuple[list[Finding], int, bool]]:
    """What a session answers after every piece (findings, safe offset, open), then flush."""
    session = matcher.session()
    out = []
    for piece in pieces:
        found = session.feed(piece)
        out.append((found, session.safe_until, session.open))
    out.append((session.flush(), session.safe_until, session.open))
    return out
