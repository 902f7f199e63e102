"""Short runs of protected text in an answer, watched live when they can matter (pure).

For a key with a spent work, or a request that carries protected text, every output stream
is also fed to a session of the short-run matcher (runs of ``budget_min_run`` words or more):
- a run of a work whose budget the key has spent blocks the stream (``reason: "budget"``);
- a run that takes up where a protected piece of the request leaves off (it starts inside
  or right after that piece and goes past its end) blocks the stream once the two together
  reach the work's ``min_words`` (``reason: "context"``).  The context-seeded session finds
  an answer that goes on at once; this one finds it after a lead-in ("Sure, here is more:").
The short-run matcher finds a run by the time its ``budget_min_run``-th word arrives, so the
watched stream is held that many words behind as well: none of a blocked run's words get
out first.  Other answers are never held for this; their runs are counted once they ended.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def __init__(
        self,
        short: Matcher,
        spent: frozenset[str],
        carried: tuple[Finding, ...] = (),
        min_words: Mapping[str, int] | None = None,
    ) -> None:
        self._session: Session = short.session()
        self._spent = spent
        self._pieces: dict[str, list[tuple[int, int]]] = {}
        for f in carried:
            self._pieces.setdefault(f.work, []).append((f.source_start, f.source_end))
        self._min_words = min_words or {}
        self._lag = short.max_min_words
        self.taken: list[Finding] = []

    def feed(self, text: str) -> list[tuple[Finding, str]]:
        """Feed output text; return blocking findings with their reason."""
        return self._blocking(self._session.feed(text), final=False)

    def flush(self) -> list[tuple[Finding, str]]:
        return self._blocking(self._session.flush(), final=True)

    def limit(self, held: str, done: int) -> int:
        """How far the stream may be released (original offset); no limit if nothing is spent."""
        safe = self._session.safe_until
        spans = words(held)
        if len(spans) >= self._lag:
            return min(safe, done + spans[-self._lag][1])
        return min(safe, done)

    def _blocking(self, settled: list[Finding], final: bool) -> list[tuple[Finding, str]]:
        if len(self.taken) < MAX_TAKEN:
            self.taken += settled[: MAX_TAKEN - len(self.taken)]
        found = (
            settled if final or not self._session.open else settled + self._session.open_findings()
        )
        out = []
        for f in found:
            if f.work in self._spent:
                out.append((replace(f, action=Action.BLOCK), "budget"))
            elif self._continues(f):
                out.append((f, "context"))
        return out

    def _continues(self, f: Finding) -> bool:
        """Whether ``f`` goes on past a piece the request carried, long enough together."""
        need = self._min_words.get(f.work, 0)
        for a, b in self._pieces.get(f.work, ()):
            if a <= f.source_start <= b < f.source_end and f.source_end - a >= need > 0:
                return True
        return False
