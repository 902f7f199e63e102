"""A window's postings handled as one group while they are short and hold nothing.

In a big catalogue clean text meets common phrases: one loaded window can have hundreds of
postings (up to the cap), and nearly all of them break off at the very next word, as runs
of the window's length.  Each could still begin a near-verbatim chain if the output goes
on with its work after an edit, so each is kept for a few words: as a lone segment (a chain
of one that holds nothing and cannot be a finding alone) and, for the gap rule, as a
broken-off run the next words may pick up.  Kept as one object per posting, they cost more
than the rest of the matcher; kept as parallel lists per window, with a set of their works
and a set of the word ids that would continue them, a word that touches none of them costs a
set look-up.  The answers are those of the posting-by-posting path (``Chains.join`` and
``Chains.broke``): a posting whose work already has a chain or a lone segment takes that
path.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import partial
from itertools import compress, filterfalse
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from proxy.matching.aho.runs import Run, hold_budget

if TYPE_CHECKING:
    from proxy.matching.aho.seeds import SeedIndex

#: Postings of one window from which they are grouped (fewer: one ``Run`` each).
GROUP_MIN = 4
#: Lone segments kept in all (the oldest groups go first).
MAX_LONE = 1024
_FAR = 1 << 62
_WORKS = attrgetter("work_set")


class Tables:
    """What the groups look up by work, made once per index: where each work starts, its
    gap rule, and the longest broken-off run of it that holds nothing (0: no gap rule)."""

    __slots__ = ("budget", "gap", "least", "work_of")

    def __init__(self, index: SeedIndex) -> None:
        # A posting's work number, mapped over a window's postings in C: a bisect on ints
        # (not a buffer) past the first work's start, so no ``- 1`` per posting.
        bounds: list[int] = list(index.work_starts)[1:]
        self.work_of: Callable[[int], int] = partial(bisect_right, bounds)
        self.gap = [w.rule.max_gap_words for w in index.works]
        self.budget = [
            hold_budget(w.rule.min_words, index.stride, index.loose) if w.rule.max_gap_words else 0
            for w in index.works
        ]
        self.least = min(self.budget, default=0)


_TABLES: weakref.WeakKeyDictionary[Any, Tables] = weakref.WeakKeyDictionary()


def tables(index: SeedIndex) -> Tables:
    """``index``'s tables (made at its first group)."""
    found = _TABLES.get(index)
    if found is None:
        found = _TABLES[index] = Tables(index)
    return found


class Fresh:
    """The postings of the window found at output word ``last``, before the next word."""

    __slots__ = ("end", "first", "firsts", "g0s", "gs", "hold", "last", "starts", "works")

    def __init__(self, last: int, end: int) -> None:
        self.last, self.end = last, end
        self.hold = self.first = 0  # the smallest of ``starts`` and of ``firsts``
        self.g0s: list[int] = []
        self.gs: list[int] = []
        self.firsts: list[int] = []
        self.starts: list[int] = []
        self.works: list[int] = []

    @classmethod
    def gather(
        cls, table: Tables, starts: list[int], window: int, span: tuple[int, int, int, int]
    ) -> tuple[Fresh | None, list[tuple[int, int]]]:
        """The postings ``starts`` of a window aligned with output words ``first``-``last``
        (``span``: first, last, and their start and end offsets), none reaching further
        back: the group of those that would be lone segments if they broke off, and the
        others (posting, work)."""
        first, last, start, end = span
        works = list(map(table.work_of, starts))
        length = last - first + 1
        if length > table.least:  # some work's rule asks for more: those are runs
            budget = table.budget
            others = [(q, w) for q, w in zip(starts, works, strict=True) if length > budget[w]]
            keep = [length <= budget[w] for w in works]
            starts = [q for q, k in zip(starts, keep, strict=True) if k]
            works = [w for w, k in zip(works, keep, strict=True) if k]
        else:
            others = []
        if not starts:
            return None, others
        fresh = cls(last, end)
        fresh.g0s, fresh.works = starts, works
        fresh.gs = list(map((window - 1).__add__, starts))
        fresh.firsts, fresh.starts = [first] * len(starts), [start] * len(starts)
        fresh.hold, fresh.first = start, first
        return fresh, others

    def resolve(
        self, wid: int, n: int, end: int, source: Sequence[int]
    ) -> tuple[list[Run], list[int]]:
        """Output word ``n`` (id ``wid``, ending at ``end``) came: the runs that go on, and
        the members that broke off."""
        # the next source word of every member at once; usually none goes on
        nexts = list(map(source.__getitem__, map((1).__add__, self.gs))) if wid else []
        if wid not in nexts:
            return [], list(range(len(self.gs)))
        going = [m for m, x in enumerate(nexts) if x == wid]
        on = []
        for m in going:
            run = self.run(m)
            run.g, run.last, run.end = run.g + 1, n, end
            on.append(run)
        taken = set(going)
        return on, [m for m in range(len(self.gs)) if m not in taken]

    def run(self, m: int) -> Run:
        """Member ``m`` as a run."""
        return Run(
            self.g0s[m],
            self.gs[m],
            self.firsts[m],
            self.last,
            self.starts[m],
            self.end,
            self.works[m],
        )


class Lone(Fresh):
    """Postings of one window that broke off together: lone segments and gap-rule entries."""

    __slots__ = (
        "alive",
        "conts",
        "ends",
        "gap_until",
        "gaps",
        "live",
        "next_end",
        "open",
        "rows",
        "work_set",
    )

    def __init__(self, fresh: Fresh, members: list[int], gaps: list[int], ends: int) -> None:
        """``members`` of ``fresh``, each closing after word ``ends`` + its gap (``ends`` < 0:
        sealed, looked at every time)."""
        # every slot set here, not by ``Fresh.__init__`` first: one is made per run that
        # breaks off alone, most of what clean text costs in a big catalogue
        self.last, self.end = fresh.last, fresh.end
        self.hold = self.first = 0  # only a window's ``Fresh`` holds
        if len(members) == len(fresh.gs):  # all of them (the usual case): the same lists
            self.g0s, self.gs, self.firsts = fresh.g0s, fresh.gs, fresh.firsts
            self.starts, self.works = fresh.starts, fresh.works
        else:
            self.g0s = list(map(fresh.g0s.__getitem__, members))
            self.gs = list(map(fresh.gs.__getitem__, members))
            self.firsts = list(map(fresh.firsts.__getitem__, members))
            self.starts = list(map(fresh.starts.__getitem__, members))
            self.works = list(map(fresh.works.__getitem__, members))
        self._rest(gaps, [-1] * len(gaps) if ends < 0 else list(map(ends.__add__, gaps)))

    def _rest(self, gaps: list[int], ends: list[int]) -> None:
        self.gaps, self.ends = gaps, ends
        self.next_end = min(ends)
        self.alive = [True] * len(gaps)  # still a lone segment
        self.live = len(gaps)
        self.work_set = set(self.works)
        self.open = [False] * len(gaps)  # still a broken-off run to pick up
        self.conts: set[int] = set()  # word ids that continue some open member
        self.rows: list[list[int]] = []  # the ``k``-th next source word of every member
        self.gap_until = -1  # the last output word a member may be picked up at

    @classmethod
    def single(cls, run: Run, gap: int, ends: int) -> Lone:
        """``run`` alone (one that broke off posting by posting)."""
        self = cls.__new__(cls)
        self.last, self.end = run.last, run.end
        self.hold = self.first = 0
        self.g0s, self.gs, self.firsts = [run.g0], [run.g], [run.first]
        self.starts, self.works = [run.start], [run.work]
        self._rest([gap], [-1 if ends < 0 else ends + gap])
        return self

    def await_continuations(self, source: Sequence[int]) -> None:
        """Every member is a broken-off run too: note the words that would continue each."""
        widest, gs, size = max(self.gaps), self.gs, len(source)
        # Every word within the widest gap, a row per step over all members: more than some
        # members take (past their work's end or their own gap), which ``pick`` checks.
        if max(gs) + widest + 1 < size:
            self.rows = [
                list(map(source.__getitem__, map(k.__add__, gs))) for k in range(1, widest + 2)
            ]
        else:  # the end of the source (0 past it: no word continues there)
            self.rows = [
                [source[g + k] if g + k < size else 0 for g in gs] for k in range(1, widest + 2)
            ]
        self.conts = set().union(*self.rows)
        self.conts.discard(0)
        self.open = [True] * len(self.gs)
        self.gap_until = self.last + widest + 1

    def members_of(self, work: int) -> list[int]:
        """Members of ``work`` still kept as lone segments."""
        alive = self.alive
        return [k for k in compress(range(len(alive)), map(work.__eq__, self.works)) if alive[k]]

    def close_gaps(self) -> None:
        self.conts, self.rows = set(), []
        self.open = [False] * len(self.open)
        self.gap_until = -1

    def pick(
        self, wid: int, n: int, span: tuple[int, int], source: Sequence[int], followed: set[int]
    ) -> list[Run]:
        """Members output word ``n`` (id ``wid``, offsets ``span``) picks up after an edit:
        one-word runs."""
        rows = self.rows
        # (member, step) where ``wid`` is, found row by row in C; a member's nearest counts
        hits = [
            (m, j)
            for j, row in enumerate(rows)
            if wid in row
            for m in compress(range(len(row)), map(wid.__eq__, row))
        ]
        if not hits:
            return []
        hits.sort()
        since = n - self.last - 1  # words since they broke off
        out: list[Run] = []
        seen = -1
        for m, j in hits:
            if m == seen:
                continue
            seen = m
            gap = self.gaps[m]
            if not self.open[m] or since > gap or j > gap:
                continue  # picked up already, or too far: past its gap
            if j and not all(rows[i][m] for i in range(j)):
                continue  # its work ends before
            self.open[m] = False
            p = self.gs[m] + j + 1
            if p not in followed:
                out.append(Run(p, p, n, n, *span, self.works[m]))
                followed.add(p)
        return out

    def kill(self, k: int) -> None:
        if self.alive[k]:
            self.alive[k] = False
            self.live -= 1

    def expire(self, n: int, final: bool, under_way: dict[int, int], barrier: int) -> None:
        """Close the members past their end (all when ``final``) that no run under way may
        still join (``under_way``: the first output word of such runs, by work)."""
        if final or (n > max(self.ends) and under_way.keys().isdisjoint(self.work_set)):
            # all past their end and no run under way of their works (the usual case): the
            # whole group closes in one step, not member by member
            self.alive = [False] * len(self.alive)
            self.live, self.next_end = 0, _FAR
            return
        next_end = _FAR
        sealed = self.last < barrier
        for k, ends in enumerate(self.ends):
            if not self.alive[k]:
                continue
            if not final and n <= ends:
                next_end = min(next_end, ends)
                continue
            if not final:
                reach = self.last + self.gaps[k] + 1
                first = under_way.get(self.works[k])
                # sealed: only a run begun before the seal may join
                if first is not None and first <= reach and (first < barrier or not sealed):
                    self.ends[k] = n  # a run under way may join it: look again next word
                    next_end = min(next_end, n)
                    continue
            self.alive[k] = False
            self.live -= 1
        self.next_end = next_end

    def first_word(self) -> int:
        """The first output word of a member still kept."""
        return min((f for f, a in zip(self.firsts, self.alive, strict=True) if a), default=_FAR)


class LoneGroups:
    """The groups of one session with lone segments left, bounded."""

    __slots__ = ("items", "most", "next_end")

    def __init__(self) -> None:
        # Groups are few at a time and looked up by work only when a run breaks off: a scan
        # of their work sets costs less than counts by work kept up to date (measured).
        self.items: list[Lone] = []
        self.most = 0  # lone segments kept, at most (``Lone.kill`` only lowers the count)
        self.next_end = _FAR  # no member closes before this (a lower bound)

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, group: Lone) -> None:
        self.items.append(group)
        if group.next_end < self.next_end:
            self.next_end = group.next_end
        self.most += group.live
        if self.most <= MAX_LONE:
            return
        live = sum(g.live for g in self.items)
        while live > MAX_LONE and len(self.items) > 1:
            # bounded: the oldest group goes (lone segments cannot be findings alone)
            gone = self.items.pop(0)
            live -= gone.live
            gone.expire(0, True, {}, 0)
        self.most = live

    # A handful of groups at a time: a comprehension over them costs less than ``map``
    # chains in C (measured), and far less than counts by work kept up to date.

    def of(self, work: int) -> list[tuple[Lone, int]]:
        """The lone segments of ``work`` still kept: (group, member)."""
        return [
            (group, k)
            for group in self.items
            if work in group.work_set
            for k in group.members_of(work)
        ]

    def among(self, works: set[int]) -> set[int]:
        """Those of ``works`` some group kept has (members still kept or not)."""
        found: set[int] = set()
        for group_works in filterfalse(works.isdisjoint, map(_WORKS, self.items)):
            found |= group_works & works
        return found

    def due(self, n: int) -> bool:
        """Whether some lone segment is past its end at output word ``n``."""
        return self.next_end < n

    def expire(self, n: int, final: bool, under_way: dict[int, int], barrier: int) -> None:
        """``Lone.expire`` for every group; groups left with no member go."""
        kept = []
        next_end = _FAR
        for group in self.items:
            if final or group.next_end < n:
                group.expire(n, final, under_way, barrier)
            if group.live:
                kept.append(group)
                if group.next_end < next_end:
                    next_end = group.next_end
        # ``most`` stays a bound (``add`` counts exactly only when it passes ``MAX_LONE``)
        self.items, self.next_end = kept, next_end
        if not kept:
            self.most = 0

    def first_word(self) -> int:
        """The first output word of a lone segment still kept."""
        return min((g.first_word() for g in self.items), default=_FAR)

    def seal(self) -> None:
        """Every lone segment is sealed (``Chains.seal``): looked at whenever chains close."""
        for group in self.items:
            group.ends = [-1] * len(group.ends)
            group.next_end = self.next_end = -1


__all__ = ["GROUP_MIN", "MAX_LONE", "Fresh", "Lone", "LoneGroups", "Tables", "tables"]
