"""Broken-off runs of works with the gap rule, while the next words may pick them up.

After an edit (a word changed, dropped or put in) a run breaks off; if one of the next
``max_gap_words + 1`` output words is one of the next ``max_gap_words + 1`` words of its
work, a new run starts there, to be joined to the old one as a near-verbatim chain.
Stretches between edits too short to hold a whole window are found this way next to a found
one (seeds still find every stretch of seed length on their own).  Entries are looked up by
the word id that would continue them, so a word that continues none costs a dict look-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.matching.aho.lone import Lone
from proxy.matching.aho.runs import Run

#: Continuation entries kept before the stale ones are swept out.
_SWEEP = 1024


class _Entry:
    """One broken-off run: where it may pick up again."""

    __slots__ = ("gap", "last", "live", "work")

    def __init__(self, last: int, gap: int, work: int) -> None:
        self.last, self.gap, self.work = last, gap, work
        self.live = True


class BrokenOff:
    """The broken-off runs of one session (one by one, and a window's postings as groups)."""

    __slots__ = ("_expect", "_open", "_picking", "_source", "_stored")

    def __init__(self, source: Sequence[int]) -> None:
        self._source = source
        # by the word id that would continue each (with the source position it continues
        # at), and in the order they broke off
        self._expect: dict[int, list[tuple[_Entry, int]]] = {}
        self._open: list[_Entry] = []
        self._stored = 0
        self._picking: list[Lone] = []  # groups (``lone``) with members to pick up

    def __bool__(self) -> bool:
        """Whether some broken-off run may still pick up (``resync`` has work)."""
        return bool(self._open or self._picking)

    def clear(self) -> None:
        """Nothing broken off so far may be picked up (the request was sealed)."""
        for group in self._picking:
            group.close_gaps()
        self._expect, self._open, self._stored, self._picking = {}, [], 0, []

    def add(self, run: Run, gap: int) -> None:
        """``run`` broke off; its work allows ``gap`` edited words."""
        entry = _Entry(run.last, gap, run.work)
        source, expect, seen = self._source, self._expect, set()
        for p in range(run.g + 1, run.g + gap + 2):
            wid = source[p]
            if not wid:
                break  # the work ends
            if wid not in seen:  # the nearest place a word continues it is the one taken
                seen.add(wid)
                expect.setdefault(wid, []).append((entry, p))
        self._open.append(entry)
        self._stored += len(seen)

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
        waiting = self._expect.get(wid)
        if waiting:
            if followed is None:
                followed = {run.g for run in runs}
            for entry, p in waiting:
                if not entry.live or n - entry.last - 1 > entry.gap:
                    continue
                entry.live = False  # picked up (or already followed from here)
                if p not in followed:
                    runs.append(Run(p, p, n, n, start, end, entry.work))
                    followed.add(p)
            del self._expect[wid]
        kept = []
        for entry in self._open:
            if entry.live and n - entry.last - 1 <= entry.gap:
                kept.append(entry)
            else:
                entry.live = False
        self._open = kept
        if not kept:
            self._expect, self._stored = {}, 0
        elif self._stored > _SWEEP:
            self._sweep()

    def _sweep(self) -> None:
        """Drop continuation entries of runs that can no longer pick up (bounded memory)."""
        expect: dict[int, list[tuple[_Entry, int]]] = {}
        for wid, entries in self._expect.items():
            kept = [(e, p) for e, p in entries if e.live]
            if kept:
                expect[wid] = kept
        self._expect = expect
        self._stored = sum(len(v) for v in expect.values())


__all__ = ["BrokenOff"]
