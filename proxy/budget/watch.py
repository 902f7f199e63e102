"""The block once a key has spent its budget for a work (pure).

For a key with a spent work, every output stream is also fed to a session of the short-run
matcher: its findings (runs of ``budget_min_run`` words or more) are what the answer takes
of each work, and such a run of a spent work blocks the stream.  (Other keys' answers are
counted once they ended, off the streaming path.)  The short-run matcher guarantees
a run is found by the time its ``budget_min_run``-th word arrives, so while the key has a
spent work the last ``budget_min_run`` words are held as well: none of a blocked run's
words get out first.  Keys with nothing spent are never held for budgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from proxy.dialects.base import Conversation
from proxy.matching.catalogue import Action
from proxy.matching.normalize import words
from proxy.matching.seam import Finding, Matcher, Session

MAX_TAKEN = 4096  # findings kept per stream for counting (each covers many positions)


@dataclass(frozen=True, slots=True)
class Extraction:
    """The per-request inputs of the checks across turns and requests."""

    seed: str = ""  # the request's protected text, for context-seeded sessions
    short: Matcher | None = None  # the short-run matcher (budgets, conversation totals)
    spent: frozenset[str] = frozenset()  # works the key may take no more of
    carried: tuple[Finding, ...] = ()  # the short-run findings of the request itself
    conversation: Conversation = field(default_factory=Conversation)


class BudgetWatch:
    """The short-run session beside one output stream."""

    def __init__(self, short: Matcher, spent: frozenset[str]) -> None:
        self._session: Session = short.session()
        self._spent = spent
        self._lag = short.max_min_words
        self.taken: list[Finding] = []

    def feed(self, text: str) -> list[Finding]:
        """Feed output text; return blocking findings (runs of spent works)."""
        return self._blocking(self._session.feed(text), final=False)

    def flush(self) -> list[Finding]:
        return self._blocking(self._session.flush(), final=True)

    def limit(self, held: str, done: int) -> int:
        """How far the stream may be released (original offset); no limit if nothing is spent."""
        safe = self._session.safe_until
        spans = words(held)
        if len(spans) >= self._lag:
            return min(safe, done + spans[-self._lag][1])
        return min(safe, done)

    def _blocking(self, settled: list[Finding], final: bool) -> list[Finding]:
        if len(self.taken) < MAX_TAKEN:
            self.taken += settled[: MAX_TAKEN - len(self.taken)]
        found = settled if final else settled + self._session.open_findings()
        return [replace(f, action=Action.BLOCK) for f in found if f.work in self._spent]
