"""The engine seam: what the rest of copyguard may know about a matching engine.

An engine compiles a ``Catalogue`` into a ``Matcher`` (read-only, shared by every request)
and opens one ``Session`` per output text stream.  Guard, handlers, scan, reload and metrics
use only these protocols and the two value types; ``proxy.matching.engines`` is the one place
that picks an engine.  Offsets are in characters of the text fed to the session.

Contract of a session (what the guard relies on): text before ``safe_until`` can no longer
become part of a finding, so releasing only that never lets ``min_words`` consecutive words
of a protected run out; ``flush`` settles everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from proxy.matching.boilerplate import BoilerplateRun
from proxy.matching.catalogue import Action, Rule


@dataclass(frozen=True, slots=True)
class WorkInfo:
    """What a finding reports about its work (the text itself is not kept)."""

    id: str
    title: str
    collection: str
    rule: Rule


@dataclass(frozen=True, slots=True)
class Finding:
    """A maximal run of output words that reproduces one protected work."""

    work: str
    title: str
    collection: str
    action: Action
    start: int  # output character offsets, [start, end)
    end: int
    words: int
    source_start: int  # word offsets in the work, [source_start, source_end)
    source_end: int

    def as_dict(self) -> dict[str, str | int | None]:
        """The finding as JSON-ready data (scan output, the ``copyguard`` object, logs).

        ``collection`` is None for a work at the top of the rules folder (in no collection).
        """
        return {
            "work": self.work,
            "title": self.title,
            "collection": self.collection or None,
            "action": self.action.value,
            "start": self.start,
            "end": self.end,
            "words": self.words,
            "source_start": self.source_start,
            "source_end": self.source_end,
        }


class Session(Protocol):
    """Matcher state for one output text stream (one choice, one content block, ...)."""

    @property
    def fed(self) -> int:
        """Characters fed so far."""
        ...

    @property
    def safe_until(self) -> int:
        """Offset before which no text can become part of a finding."""
        ...

    @property
    def open(self) -> bool:
        """Whether a possible finding is still being followed (else ``open_findings`` is [])."""
        ...

    def feed(self, text: str) -> list[Finding]:
        """Take the next piece of output; return the findings settled by it."""
        ...

    def flush(self) -> list[Finding]:
        """End of stream: settle everything; afterwards all text is safe."""
        ...

    def seal(self) -> None:
        """What was fed so far is the request (a conversation's seed): a run may go on from
        it into what follows only exactly, never across an edit (the near-verbatim gap)."""
        ...

    def open_findings(self) -> list[Finding]:
        """Runs already long enough to be findings that may still grow (for early blocking)."""
        ...


class Matcher(Protocol):
    """A compiled catalogue."""

    @property
    def content_hash(self) -> str:
        """The rules' content hash (what a reload compares)."""
        ...

    @property
    def works(self) -> tuple[WorkInfo, ...]:
        """The protected works in force."""
        ...

    @property
    def work_by_id(self) -> Mapping[str, WorkInfo]:
        """The works by id (a finding names its work by id)."""
        ...

    @property
    def word_count(self) -> int:
        """Protected words in force."""
        ...

    @property
    def boilerplate_runs(self) -> tuple[BoilerplateRun, ...]:
        """Runs of the works marked as boilerplate at build time (never findings alone)."""
        ...

    @property
    def withholds(self) -> bool:
        """Whether any work blocks or redacts (else nothing need ever be held back)."""
        ...

    @property
    def max_min_words(self) -> int:
        """The longest run any rule asks for before it counts.

        A one-shot check of a string that continues an earlier one (a stray field) needs
        only this many words minus one of the text before it.
        """
        ...

    def session(self, context: str | None = None, strict: bool = False) -> Session:
        """A fresh session for one output text stream.

        ``context``: text the conversation already holds (the prompt, earlier turns), for
        engines that check runs spanning it; an engine without such checks ignores it.
        ``strict``: ``safe_until`` never passes a word that could still turn out to begin a
        protected run (no lead-in words released), at the cost of holding more clean text.
        """
        ...


def scan_once(matcher: Matcher, text: str) -> list[Finding]:
    """Every finding in a finished text (nothing held back: the last word counts as ended)."""
    session = matcher.session()
    return session.feed(text) + session.flush()


__all__ = ["Finding", "Matcher", "Session", "WorkInfo", "scan_once"]
