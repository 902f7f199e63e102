"""Broken-off runs of works with the gap rule, while the next words may pick them up.

After an edit (a word changed, dropped or put in) a run breaks off; if one of the next
``max_gap_words + 1`` output words is one of the next ``max_gap_words + 1`` words of its
work, a new run starts there, to be joined to the old one as a near-verbatim chain.
Stretches between edits too short to hold a whole window are found this way next to a found
one (seeds still find every stretch of seed length on their own).  A broken-off run is kept
only for its gap's few words, and few are kept at a time: each keeps the words that would
continue it in a list, looked through in C, with no index by word to keep up or sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.matching.aho.lone import Lone
from proxy.matching.aho.runs import Run


class _Entry:
    """One broken-off run: where it may pick up again."""

    __slots__ = ("after", "gap", "last", "words", "work")

    def __init__(self, last: int, gap: int, work: int, after: int, words: list[int]) -> None:
        self.last, self.gap, self.work = last, gap, work
        self.after, self.words = after, words  # ``words``: the source's from ``after`` on


class BrokenOff:
    """The broken-off runs of one session (one by one, and a window's postings as groups)."""

    __slots__ = ("_open", "_picking", "_source")

    def __init__(self, source: Sequence[int]) -> None:
        self._source = source
        self._open: list[_Entry] = []  # in the order they broke off
        self._picking: list[Lone] = []  # groups (``lone``) with members to pick up

    def __bool__(self) -> bool:
        """Whether some broken-off run may still pick up (``resync`` has work)."""
        return bool(self._open or self._picking)

    def clear(self) -> None:
        """Nothing broken off so far may be picked up (the request was sealed)."""
        for group in self._picking:
            group.close_gaps()
        self._open, self._picking = [], []

    def add(self, run: Run, gap: int) -> None:
        """``run`` broke off; its work allows ``gap`` edited words."""
        after = run.g + 1
        words = list(self._source[after : after + gap + 1])
        if 0 in words:
            del words[words.index(0) :]  # the work ends
        self._open.append(_Entry(run.last, gap, run.work, after, words))

    def add_group(self, group: Lone) -> None:
        """Every member of ``group`` broke off."""
        group.await_continuations(self._source)
        self._picking.append(group)

    def resync(self, wid: int, n: int, start: int, end: int, runs: list[Run]) -> None:
        """Output word ``n`` (id ``wid``, offsets ``start``-``end``) picks up the broken-off
        runs it continues: new one-word runs in ``runs``."""
        followed: set[int] | None = None
        if self._picking:
            picking = []
            for group in self._picking:
                if n > group.gap_until:
                    group.close_gaps()
                    continue
                picking.append(group)
                if wid in group.conts:
                    if followed is None:
                        followed = {run.g for run in runs}
                    runs += group.pick(wid, n, (start, end), self._source, followed)
            self._picking = picking
        if not self._open:
            return
        kept = []
        for entry in self._open:
            if n - entry.last - 1 > entry.gap:
                continue  # too many words since it broke off
            if wid not in entry.words:
                kept.append(entry)
                continue
            # picked up at the nearest place the word continues it (or already followed)
            p = entry.after + entry.words.index(wid)
            if followed is None:
                followed = {run.g for run in runs}
            if p not in followed:
                runs.append(Run(p, p, n, n, start, end, entry.work))
                followed.add(p)
        self._open = kept


__all__ = ["BrokenOff"]
