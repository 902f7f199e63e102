"""A base index beside segments: matchers searched together, findings put together.

New works go into a segment (the automaton engine over the rules folder given with the
index); works withdrawn from the base are tombstoned (``KgramMatcher(withdrawn=...)``).
A reload builds a new ``Layered`` and swaps it in whole, so streams in flight keep theirs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence

from proxy.matching.seam import Finding, Matcher, Session, WorkInfo


class Layered:
    """Several matchers as one ``seam.Matcher`` (their works must not share ids)."""

    def __init__(self, parts: Sequence[Matcher]) -> None:
        self.parts = tuple(parts)
        self.works: tuple[WorkInfo, ...] = tuple(w for p in parts for w in p.works)
        self.work_by_id: Mapping[str, WorkInfo] = {w.id: w for w in self.works}
        self.word_count = sum(p.word_count for p in parts)
        self.withholds = any(p.withholds for p in parts)
        self.max_min_words = max(p.max_min_words for p in parts)
        joined = "\0".join(p.content_hash for p in parts)
        self.content_hash = hashlib.sha256(joined.encode()).hexdigest()
        runs, offset = [], 0
        for p in parts:  # a run names its work by number in ``works``: shift each part's
            runs += [dataclasses.replace(r, work=r.work + offset) for r in p.boilerplate_runs]
            offset += len(p.works)
        self.boilerplate_runs = tuple(runs)
        self._short: dict[int, Layered] = {}

    def short_form(self, min_run: int, parts: Sequence[Matcher | None]) -> Layered:
        """The parts' short-run forms (``engines.short_runs``) as one, memoised."""
        if min_run not in self._short:
            self._short[min_run] = Layered([p for p in parts if p is not None])
        return self._short[min_run]

    def session(self, context: str | None = None, strict: bool = False) -> LayeredSession:
        return LayeredSession([p.session(context, strict) for p in self.parts])


class LayeredSession:
    """One session per part, fed the same text; the safe offset is the smallest."""

    def __init__(self, sessions: list[Session]) -> None:
        self._sessions = sessions

    @property
    def fed(self) -> int:
        return self._sessions[0].fed

    @property
    def safe_until(self) -> int:
        return min(s.safe_until for s in self._sessions)

    @property
    def open(self) -> bool:
        return any(s.open for s in self._sessions)

    def seal(self) -> None:
        for s in self._sessions:
            s.seal()

    def feed(self, text: str) -> list[Finding]:
        return _sorted([f for s in self._sessions for f in s.feed(text)])

    def flush(self) -> list[Finding]:
        return _sorted([f for s in self._sessions for f in s.flush()])

    def open_findings(self) -> list[Finding]:
        return [f for s in self._sessions for f in s.open_findings()]


def _sorted(found: list[Finding]) -> list[Finding]:
    found.sort(key=lambda f: f.start)
    return found
