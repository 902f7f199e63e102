"""Near-verbatim runs: exact segments of one work chained across small edits.

A chain is a list of exact aligned segments of one work, in the same order in the output
and in the work, each separated from the next by at most ``max_gap_words`` output words
(substituted or inserted) and at most as many work words (substituted or dropped).  A
contiguous part of a chain is a finding when its aligned words, boilerplate aside, total
``min_words`` or more and make up at least ``min_share`` of its length (in output words or
work words, whichever is longer).

Clean text meets many short alignments in a big catalogue (a common four-word phrase has
hundreds of postings), and each one that breaks off becomes a one-segment chain.  So what
every word and every feed asks of the chains is kept cheap: a chain carries its own-word
totals, the offset it holds text from and the word after which nothing can join it; a
broken-off run's possible continuations are looked up by word id; chains that cannot
qualify are dropped without being scored; and when the bound is reached the chain with the
fewest aligned words is settled first, so noise does not push out a real candidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy.matching.aho.broken import BrokenOff
from proxy.matching.aho.lone import Fresh, Lone, LoneGroups, tables
from proxy.matching.aho.runs import Run, after, hold_budget, qualifying

if TYPE_CHECKING:
    from proxy.matching.aho.seeds import SeedIndex
    from proxy.matching.catalogue import Rule


#: Bounds on what one session keeps (a chain's qualifying parts are O(segments^2)).
MAX_SEGMENTS = 48
MAX_CHAINS = 32


class _Terms:
    """One work's rule as the chains use it."""

    __slots__ = ("budget", "gap", "min_share", "min_words")

    def __init__(self, index: SeedIndex, rule: Rule) -> None:
        self.gap, self.min_words, self.min_share = (
            rule.max_gap_words,
            rule.min_words,
            rule.min_share,
        )
        self.budget = hold_budget(rule.min_words, index.stride, index.loose)


class Chain:
    """The segments of one near-verbatim candidate, with what holding and closing ask."""

    __slots__ = ("hold_from", "owned", "segs", "terms", "work")

    def __init__(self, work: int, terms: _Terms) -> None:
        self.work, self.terms = work, terms
        self.segs: list[Run] = []
        self.owned = 0  # own (non-boilerplate) aligned words of all segments
        self.hold_from: int | None = None  # output offset held from (``Chains.hold``)

    def add(self, seg: Run, own: int) -> None:
        self.segs.append(seg)
        self.owned += own
        if self.hold_from is None and self.owned > self.terms.budget:
            self.hold_from = seg.start

    def reach(self) -> int:
        """The last output word a joining segment may start at (through its gap)."""
        return self.segs[-1].last + self.terms.gap + 1


class Chains:
    """The near-verbatim candidates of one session: chains kept while a segment may join."""

    __slots__ = (
        "_done",
        "_expiry",
        "_gap",
        "_index",
        "_terms",
        "barrier",
        "broken",
        "items",
        "lones",
    )

    def __init__(self, index: SeedIndex) -> None:
        self._index = index
        self.items: list[Chain] = []
        self._done: list[Chain] = []  # closed early to stay bounded
        self._terms: dict[int, _Terms] = {}
        self._gap = tables(index).gap  # by work, for every run that breaks off
        # Chains of one segment that hold nothing (``Chain.hold_from`` None) and cannot be a
        # finding alone, most of what clean text meets: lone segments (``lone``), a window's
        # postings at a time or one by one.
        self.lones = LoneGroups()
        self.broken = BrokenOff(index.source)  # broken-off runs the next words may pick up
        # No chain can close before output word ``_expiry`` (a lower bound; -1: look).
        self._expiry = -1
        # Output words before this are sealed (a conversation's request): an edit may not
        # bridge from them, only an exact run goes on past it.
        self.barrier = 0

    def terms(self, work: int) -> _Terms:
        rule = self._index.works[work].rule
        terms = self._terms.get(id(rule))  # rules are few and shared by their works
        if terms is None:
            terms = self._terms[id(rule)] = _Terms(self._index, rule)
        return terms

    def seal(self, n: int) -> None:
        """Output words before ``n`` are sealed: no broken-off run before it is picked up."""
        self.barrier = n
        self.broken.clear()
        self._expiry = -1
        self.lones.seal()  # they close unless a run begun before ``n`` may join them

    def broke(self, run: Run) -> None:
        """A run of a work with the gap rule broke off: look for its continuation."""
        gap = self._gap[run.work]
        if gap and run.last >= self.barrier:
            self.broken.add(run, gap)

    def join(self, run: Run, work: int, max_gap: int) -> None:
        """Join a finished exact segment to every chain of its work it continues.

        It continues a chain when it follows the chain's last segment, or an earlier one
        (then a fork: that chain up to there, then this segment), within ``max_gap``.
        """
        own = self._index.own_words
        joined = False
        forks = []
        for chain in self.items:
            if chain.work != work:
                continue
            segs = chain.segs
            for k in range(len(segs) - 1, -1, -1):
                seg = after(segs[k], run, max_gap, self.barrier)
                if seg is not None:
                    if k == len(segs) - 1 and len(segs) >= MAX_SEGMENTS:
                        # Bounded: settle what the chain holds, go on from its last segment
                        # (findings of one work that touch are merged when settled).
                        self._done.append(self._copy(chain, len(segs)))
                        last = segs[-1]
                        chain.segs, chain.owned, chain.hold_from = [], 0, None
                        chain.add(last, own(last.g0, last.g))
                        chain.add(seg, own(seg.g0, seg.g))
                    elif k == len(segs) - 1:
                        chain.add(seg, own(seg.g0, seg.g))
                    else:
                        fork = self._copy(chain, k + 1)
                        fork.add(seg, own(seg.g0, seg.g))
                        forks.append(fork)
                    joined = True
                    break
        for group, k in self.lones.of(work):
            lone = group.run(k)
            seg = after(lone, run, max_gap, self.barrier)
            if seg is not None:
                group.kill(k)
                chain = Chain(work, self.terms(work))
                chain.add(lone, own(lone.g0, lone.g))
                chain.add(seg, own(seg.g0, seg.g))
                forks.append(chain)
                joined = True
        if not joined:
            terms = self.terms(work)
            solo: Chain | None = None
            # fewer source words than the budget, so fewer own words: it holds nothing
            # (``Chain.add``), known without counting them
            if run.g - run.g0 >= terms.budget:
                solo = Chain(work, terms)
                solo.add(run, own(run.g0, run.g))
            if solo is None or solo.hold_from is None:
                self.lones.add(Lone.single(run, max_gap, self._lone_ends(run.last)))
            else:
                forks.append(solo)
        for chain in forks:
            self._expiry = min(self._expiry, self._ends(chain))
        self.items += forks
        while len(self.items) > MAX_CHAINS:
            # the candidate with the fewest own words goes first (the oldest of equals)
            weakest = min(range(len(self.items)), key=lambda i: self.items[i].owned)
            self._done.append(self.items.pop(weakest))

    def _lone_ends(self, last: int) -> int:
        """``Lone``'s ``ends`` for segments ending at output word ``last`` (-1: sealed)."""
        if last < self.barrier:
            return -1
        return last + self._index.window + self._index.stride

    def bury(self, fresh: Fresh, dead: list[int]) -> None:
        """Members ``dead`` of a window's postings broke off at the word after it.

        Those of a work with a chain or a lone segment already take the way of any broken-off
        run (``join``, ``broke``); the rest become one group (``lone``).
        """
        busy = {chain.work for chain in self.items}
        works = fresh.works
        if busy or self.lones:
            present = set(works)
            hot = (present & busy) | self.lones.among(present)
            joining = [m for m in dead if works[m] in hot] if hot else []
            for m in joining:
                run = fresh.run(m)
                self.join(run, run.work, self.terms(run.work).gap)
                self.broke(run)
            if joining:
                taken = set(joining)
                dead = [m for m in dead if m not in taken]
        if not dead:
            return
        ends = self._lone_ends(fresh.last)
        gaps = list(map(self._gap.__getitem__, map(works.__getitem__, dead)))
        group = Lone(fresh, dead, gaps, ends)
        self.lones.add(group)
        if ends >= 0:  # not sealed
            self.broken.add_group(group)

    def earliest(self, word: int) -> int:
        """``word`` lowered to the first output word of any chain kept (settling waits)."""
        for chain in self.items:
            word = min(word, chain.segs[0].first)
        return min(word, self.lones.first_word())

    def _copy(self, chain: Chain, k: int) -> Chain:
        """A new chain of ``chain``'s first ``k`` segments."""
        own = self._index.own_words
        copy = Chain(chain.work, chain.terms)
        for seg in chain.segs[:k]:
            copy.add(seg, own(seg.g0, seg.g))
        return copy

    def qualifying(self, chain: Chain) -> list[Run]:
        """The parts of a chain that are findings, each as one run."""
        terms, segs = chain.terms, chain.segs
        if chain.owned < terms.min_words:
            return []  # no part of it can own enough words
        ranges = qualifying(segs, self._index.own_words, terms.min_words, terms.min_share)
        return [
            Run(
                segs[i].g0,
                segs[j].g,
                segs[i].first,
                segs[j].last,
                segs[i].start,
                segs[j].end,
                chain.work,
            )
            for i, j in ranges
        ]

    @property
    def busy(self) -> bool:
        """Whether any chain is kept or waits to be settled."""
        return bool(self.items or self._done or self.lones)

    def idle(self, n: int) -> bool:
        """Whether ``close`` at output word ``n`` (not final) would do nothing: no lone
        segment is due and no chain can have closed (the usual chunk skips settling)."""
        lones = self.lones
        if lones.items and lones.next_end < n:
            return False
        if not self._done and n <= self._expiry:
            return True
        return not (self.items or self._done or lones.items)

    def _ends(self, chain: Chain) -> int:
        """The output word count after which ``chain`` is closed unless a run may join it."""
        if chain.segs[-1].last < self.barrier:
            return -1  # sealed: only a run begun before may join; looked at every time
        index = self._index
        return chain.reach() + index.window + index.stride - 1

    def _under_way(self, runs: list[Run], fresh: Fresh | None) -> dict[int, int]:
        """The first output word of the exact runs still being followed, by work."""
        # a window's postings all begin at its first word: their works at once, in C
        firsts = {} if fresh is None else dict.fromkeys(fresh.works, fresh.first)
        for run in runs:
            known = firsts.get(run.work)
            if known is None or run.first < known:
                firsts[run.work] = run.first
        return firsts

    def _joinable(self, chain: Chain, ends: int, under_way: dict[int, int]) -> bool:
        """Whether an exact run under way may still join ``chain`` (past its own reach)."""
        # A segment starting within the gap is found by its seed's last word; sealed
        # (``ends`` < 0), only by a run begun before the seal.
        first = under_way.get(chain.work)
        return first is not None and first <= chain.reach() and (first < self.barrier or ends >= 0)

    def close(
        self, n: int, runs: list[Run], final: bool, fresh: Fresh | None = None
    ) -> list[tuple[Run, int]]:
        """Settle the chains no later segment can join (all when ``final``): their findings.

        ``n``: output words so far; ``runs`` and ``fresh``: exact runs still being followed.
        """
        under_way: dict[int, int] | None = None
        if self.lones and (final or self.lones.due(n)):
            if under_way is None:
                under_way = self._under_way(runs, fresh)
            self.lones.expire(n, final, under_way, self.barrier)
        if not final and not self._done and n <= self._expiry:
            return []  # nothing can have closed since the last look
        keep: list[Chain] = []
        out = [(run, c.work) for c in self._done for run in self.qualifying(c)]
        self._done = []
        expiry = n + (1 << 30)
        for chain in self.items:
            ends = self._ends(chain)
            if not final and n <= ends:
                keep.append(chain)
                expiry = min(expiry, ends)
                continue
            if under_way is None:
                under_way = self._under_way(runs, fresh)
            if not final and self._joinable(chain, ends, under_way):
                keep.append(chain)
                expiry = -1  # kept by a run under way: look again next time
            else:
                out += [(run, chain.work) for run in self.qualifying(chain)]
        self.items = keep
        self._expiry = expiry
        return out

    def hold(self, safe: int) -> int:
        """``safe`` lowered to where the chains must be held from.

        A chain's first segments may go out while they hold at most ``min_words - stride -
        3 * loose`` aligned words: at most ``stride - 1 + 3 * loose`` more can slip out
        before the next segment's seed is found (with a short stride, a live match's first
        words, see ``MatchIndex.loose``), so what is out never makes ``min_words`` aligned.
        """
        for chain in self.items:
            held = chain.hold_from
            if held is not None and held < safe:
                safe = held
        return safe


__all__ = ["Chain", "Chains", "Run"]
