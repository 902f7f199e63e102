"""A second matching engine, written only against ``proxy.matching.seam``: plain substrings.

Each work is kept as its lower-cased words joined by single spaces; a run of output words is
protected when it occurs in one of those strings (Python's ``in``), at least the work's
``min_words`` long.  Holdback: the longest suffix of the output's words that occurs in a work
is held once it is half of ``min_words`` long (a strict session: from its first word), or at
once if it is how a work begins (with the unfinished word after it, if that continues it).
So fewer than half a run can be out before the rest is held and found.  No automaton, no
windows, no cache: if the proxy passes its route tests with this engine too, nothing outside
``proxy/matching/`` depends on how the real one works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.matching.boilerplate import BoilerplateRun
from proxy.matching.catalogue import Action, Catalogue
from proxy.matching.seam import Finding, WorkInfo

_WORD = re.compile(r"\w+")


class SubstringMatcher:
    """A ``Matcher`` whose sessions look runs up with ``in`` on each work's text."""

    def __init__(self, catalogue: Catalogue) -> None:
        policy = catalogue.policy
        kept = [w for w in catalogue.works if w.id not in policy.allow_works]
        self.works = tuple(
            WorkInfo(w.id, w.display_title, w.collection, policy.rule(w.collection)) for w in kept
        )
        self.texts = tuple(" " + " ".join(_words(w.text)) + " " for w in kept)
        self.content_hash = catalogue.content_hash
        self.word_count = sum(len(_words(w.text)) for w in kept)
        self.withholds = any(w.rule.action in (Action.BLOCK, Action.REDACT) for w in self.works)
        self.max_min_words = max((w.rule.min_words for w in self.works), default=1)
        # a suffix this long that occurs in a work is held (see the module docstring)
        self.hold_from = (min((w.rule.min_words for w in self.works), default=1) + 1) // 2
        self._by_id = {w.id: w for w in self.works}
        self.boilerplate_runs: tuple[BoilerplateRun, ...] = ()  # it marks none

    @property
    def work_by_id(self) -> Mapping[str, WorkInfo]:
        return self._by_id

    def session(self, context: str | None = None, strict: bool = False) -> SubstringSession:
        return SubstringSession(self, strict)

    def where(self, run: str) -> int | None:
        """The first work whose text holds ``run`` (words joined by spaces), if any."""
        needle = f" {run} "
        return next((i for i, text in enumerate(self.texts) if needle in text), None)

    def held(self, run: str, words: int, open_end: bool, strict: bool = False) -> bool:
        """Whether output ``run`` (``words`` long) may still become part of a finding.

        ``open_end``: its last word is unfinished (then it need only begin a work's word).
        ``strict``: held from its first word (no word of a run is released).
        """
        needle = f" {run}" if open_end else f" {run} "
        if any(text.startswith(needle) for text in self.texts):
            return True
        least = 1 if strict else self.hold_from
        return words >= least and any(needle in text for text in self.texts)


def _words(text: str) -> list[str]:
    return [m.group().lower() for m in _WORD.finditer(text)]


@dataclass
class _Run:
    work: int
    first: int  # output word numbers, inclusive
    last: int


class SubstringSession:
    """One output stream: its words with their offsets, the held suffix, the open run."""

    def __init__(self, matcher: SubstringMatcher, strict: bool = False) -> None:
        self._m = matcher
        self._strict = strict
        self._words: list[tuple[str, int, int]] = []  # (lower-cased word, start, end)
        self._pending, self._pending_start = "", 0
        self._fed = 0
        self._live = 0  # first word of the held suffix (== len(words): none)
        self._run: _Run | None = None

    @property
    def fed(self) -> int:
        return self._fed

    @property
    def open(self) -> bool:
        return self._run is not None

    @property
    def safe_until(self) -> int:
        if self._run is not None:
            return self._words[self._run.first][1]
        n, pending = len(self._words), self._pending.lower()
        for j in range(self._live, n + 1):  # the longest held suffix (with the word under way)
            run = " ".join([w for w, _, _ in self._words[j:]] + ([pending] if pending else []))
            words = n - j + bool(pending)
            if run and self._m.held(run, words, bool(pending), self._strict):
                return self._words[j][1] if j < n else self._pending_start
        return self._fed

    def feed(self, text: str) -> list[Finding]:
        start = self._pending_start if self._pending else self._fed
        buf = self._pending + text
        self._fed += len(text)
        self._pending = ""
        out: list[Finding] = []
        for m in _WORD.finditer(buf):
            if m.end() == len(buf):  # may go on in the next piece
                self._pending, self._pending_start = m.group(), start + m.start()
                break
            out += self._add(m.group().lower(), start + m.start(), start + m.end())
        return out

    def seal(self) -> None:
        """Nothing to do: this engine has no near-verbatim runs to bridge a boundary."""

    def flush(self) -> list[Finding]:
        out = (
            self._add(self._pending.lower(), self._pending_start, self._fed)
            if self._pending
            else []
        )
        self._pending = ""
        if self._run is not None:
            out.append(self._finding(self._run))
            self._run = None
        self._live = len(self._words)
        return out

    def open_findings(self) -> list[Finding]:
        return [] if self._run is None else [self._finding(self._run)]

    def _add(self, word: str, start: int, end: int) -> list[Finding]:
        n = len(self._words)
        self._words.append((word, start, end))
        out: list[Finding] = []
        run = self._run
        if run is not None:
            if self._m.where(self._joined(run.first, n)) == run.work:
                run.last = n
                return out
            out.append(self._finding(run))
            self._run = None
        while self._live <= n and self._m.where(self._joined(self._live, n)) is None:
            self._live += 1
        work = self._m.where(self._joined(self._live, n)) if self._live <= n else None
        if work is not None and n - self._live + 1 >= self._m.works[work].rule.min_words:
            self._run = _Run(work, self._live, n)
        return out

    def _joined(self, first: int, last: int) -> str:
        return " ".join(w for w, _, _ in self._words[first : last + 1])

    def _finding(self, run: _Run) -> Finding:
        info = self._m.works[run.work]
        text = self._m.texts[run.work]
        source_start = text[: text.find(f" {self._joined(run.first, run.last)} ") + 1].count(" ")
        return Finding(
            work=info.id,
            title=info.title,
            collection=info.collection,
            action=info.rule.action,
            start=self._words[run.first][1],
            end=self._words[run.last][2],
            words=run.last - run.first + 1,
            source_start=source_start - 1,
            source_end=source_start - 1 + run.last - run.first + 1,
        )
