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

from collections.abc import Sequence

from proxy.matching.aho.runs import Run

#: Postings of one window from which they are grouped (fewer: one ``Run`` each).
GROUP_MIN = 4


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

    def add(self, g0: int, g: int, first: int, start: int, work: int) -> None:
        self.g0s.append(g0)
        self.gs.append(g)
        self.firsts.append(first)
        self.starts.append(start)
        self.works.append(work)

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
        "by_work",
        "conts",
        "ends",
        "gap_until",
        "gaps",
        "live",
        "next_end",
        "open",
    )

    def __init__(self, last: int, end: int) -> None:
        super().__init__(last, end)
        self.gaps: list[int] = []  # the gap rule's words, by member
        self.ends: list[int] = []  # the word count after which a member closes (-1: sealed)
        self.alive: list[bool] = []  # still a lone segment
        self.open: list[bool] = []  # still a broken-off run to pick up
        self.by_work: dict[int, list[int]] = {}
        self.conts: set[int] = set()  # word ids that continue some open member
        self.live = 0
        self.next_end = 1 << 62
        self.gap_until = -1  # the last output word a member may be picked up at

    def take(self, fresh: Fresh, m: int, gap: int, ends: int) -> None:
        """Member ``m`` of ``fresh`` as a lone segment that closes after word ``ends``."""
        self.add(fresh.g0s[m], fresh.gs[m], fresh.firsts[m], fresh.starts[m], fresh.works[m])
        k = len(self.gaps)
        self.gaps.append(gap)
        self.ends.append(ends)
        self.alive.append(True)
        self.open.append(False)
        self.by_work.setdefault(fresh.works[m], []).append(k)
        self.live += 1
        self.next_end = min(self.next_end, ends)

    def await_continuations(self, source: Sequence[int]) -> None:
        """Every member is a broken-off run too: note the words that would continue each."""
        conts = self.conts
        for k, g in enumerate(self.gs):
            gap = self.gaps[k]
            self.open[k] = True
            for p in range(g + 1, g + gap + 2):
                wid = source[p]
                if not wid:
                    break  # the work ends
                conts.add(wid)
            self.gap_until = max(self.gap_until, self.last + gap + 1)

    def close_gaps(self) -> None:
        self.conts = set()
        self.open = [False] * len(self.open)
        self.gap_until = -1

    def pick(
        self, wid: int, n: int, span: tuple[int, int], source: Sequence[int], followed: set[int]
    ) -> list[Run]:
        """Members output word ``n`` (id ``wid``, offsets ``span``) picks up after an edit:
        one-word runs."""
        out = []
        last = self.last
        for k, g in enumerate(self.gs):
            if not self.open[k]:
                continue
            gap = self.gaps[k]
            if n - last - 1 > gap:
                self.open[k] = False  # too many words since it broke off
                continue
            for p in range(g + 1, g + gap + 2):
                w = source[p]
                if not w:
                    break
                if w == wid:
                    self.open[k] = False
                    if p not in followed:
                        out.append(Run(p, p, n, n, *span, self.works[k]))
                        followed.add(p)
                    break
        return out

    def kill(self, k: int) -> None:
        if self.alive[k]:
            self.alive[k] = False
            self.live -= 1

    def expire(self, n: int, final: bool, under_way: dict[int, int], barrier: int) -> list[int]:
        """Close the members past their end (all when ``final``) that no run under way may
        still join (``under_way``: the first output word of such runs, by work); their works."""
        gone = []
        next_end = 1 << 62
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
            gone.append(self.works[k])
        self.next_end = next_end
        return gone

    def first_word(self) -> int:
        """The first output word of a member still kept."""
        return min((f for f, a in zip(self.firsts, self.alive, strict=True) if a), default=1 << 62)


__all__ = ["GROUP_MIN", "Fresh", "Lone"]
