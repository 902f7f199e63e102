"""Near-verbatim runs: exact segments of one work chained across small edits.

A chain is a list of exact aligned segments of one work, in the same order in the output
and in the work, each separated from the next by at most ``max_gap_words`` output words
(substituted or inserted) and at most as many work words (substituted or dropped).  A
contiguous part of a chain is a finding when its aligned words, boilerplate aside, total
``min_words`` or more and make up at least ``min_share`` of its length (in output words or
work words, whichever is longer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.matching.aho.seeds import SeedIndex


#: Bounds on what one session keeps (a chain's qualifying parts are O(segments^2)).
MAX_SEGMENTS = 48
MAX_CHAINS = 32


class Run:
    """Output words aligned, one for one, with consecutive source words."""

    __slots__ = ("end", "first", "g", "g0", "last", "start")

    def __init__(self, g0: int, g: int, first: int, last: int, start: int, end: int) -> None:
        self.g0, self.g = g0, g  # source positions of the first and last aligned word
        self.first, self.last = first, last  # output word numbers
        self.start, self.end = start, end  # output character offsets


def gaps(prev: Run, seg: Run) -> tuple[int, int]:
    """Output words and work words between two segments (negative: they overlap)."""
    return seg.first - prev.last - 1, seg.g0 - prev.g - 1


def qualifying(
    segs: Sequence[Run],
    own: Callable[[int, int], int],
    min_words: int,
    min_share: float,
) -> list[tuple[int, int]]:
    """Maximal index ranges [i, j] of ``segs`` covering every qualifying contiguous part."""
    found: list[tuple[int, int]] = []
    for i in range(len(segs)):
        aligned = owned = 0
        for j in range(i, len(segs)):
            seg = segs[j]
            aligned += seg.last - seg.first + 1
            owned += own(seg.g0, seg.g)
            length = max(seg.last - segs[i].first + 1, seg.g - segs[i].g0 + 1)
            if owned >= min_words and aligned >= min_share * length:
                found.append((i, j))
    return _merge(found)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i, j in sorted(ranges):
        if out and i <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], j))
        else:
            out.append((i, j))
    return out


def _after(prev: Run, run: Run, max_gap: int, barrier: int) -> Run | None:
    """``run`` as the next segment after ``prev`` (without any overlap), or None.

    No edit bridges ``barrier`` (the first output word after a seal): ``prev`` ending
    before it and ``run`` starting at or after it never join.
    """
    if prev.last < barrier <= run.first:
        return None
    out_gap, src_gap = gaps(prev, run)
    cut = max(0, -out_gap, -src_gap)  # overlapping ``prev``: only the rest counts
    if cut > run.last - run.first or out_gap + cut > max_gap or src_gap + cut > max_gap:
        return None
    if not cut:
        return run
    return Run(run.g0 + cut, run.g, run.first + cut, run.last, run.start, run.end)


class Chains:
    """The near-verbatim candidates of one session: chains kept while a segment may join."""

    __slots__ = ("_done", "_index", "barrier", "gaps", "items")

    def __init__(self, index: SeedIndex) -> None:
        self._index = index
        self.items: list[tuple[list[Run], int]] = []  # segments, work
        self._done: list[tuple[list[Run], int]] = []  # closed early to stay bounded
        # Runs that broke off, for the gap rule: (source position, last output word, gap)
        self.gaps: list[tuple[int, int, int]] = []
        # Output words before this are sealed (a conversation's request): an edit may not
        # bridge from them, only an exact run goes on past it.
        self.barrier = 0

    def seal(self, n: int) -> None:
        """Output words before ``n`` are sealed: no broken-off run before it is picked up."""
        self.barrier = n
        self.gaps = []

    def broke(self, run: Run) -> None:
        """A run of a work with the gap rule broke off: look for its continuation."""
        work = self._index.work_index(run.g0)
        gap = self._index.works[work].rule.max_gap_words
        if gap and run.last >= self.barrier:
            self.gaps.append((run.g, run.last, gap))

    def resync(self, wid: int, n: int, start: int, end: int, runs: list[Run]) -> None:
        """Output word ``n`` may pick up a broken-off run after an edit: a new run in ``runs``.

        Stretches between edits too short to hold a whole window are found this way next
        to a found one (seeds still find every stretch of seed length on their own).
        """
        source, keep = self._index.source, []
        followed = {run.g for run in runs} if self.gaps else set()
        for g, last, gap in self.gaps:
            if n - last - 1 > gap:
                continue  # too many words since the run broke off
            keep.append((g, last, gap))
            for d in range(gap + 1):
                p = g + 1 + d
                if not source[p]:
                    break  # the work ends
                if source[p] == wid:
                    if p not in followed:
                        runs.append(Run(p, p, n, n, start, end))
                        followed.add(p)
                    keep.pop()
                    break
        self.gaps = keep

    def join(self, run: Run, work: int, max_gap: int) -> None:
        """Join a finished exact segment to every chain of its work it continues.

        It continues a chain when it follows the chain's last segment, or an earlier one
        (then a fork: that chain up to there, then this segment), within ``max_gap``.
        """
        joined = False
        forks = []
        for segs, chain_work in self.items:
            if chain_work != work:
                continue
            for k in range(len(segs) - 1, -1, -1):
                seg = _after(segs[k], run, max_gap, self.barrier)
                if seg is not None:
                    if k == len(segs) - 1 and len(segs) >= MAX_SEGMENTS:
                        # Bounded: settle what the chain holds, go on from its last segment
                        # (findings of one work that touch are merged when settled).
                        self._done.append((segs[:], work))
                        del segs[:-1]
                        segs.append(seg)
                    elif k == len(segs) - 1:
                        segs.append(seg)
                    else:
                        forks.append(([*segs[: k + 1], seg], work))
                    joined = True
                    break
        self.items += forks
        if not joined:
            self.items.append(([run], work))
        while len(self.items) > MAX_CHAINS:
            self._done.append(self.items.pop(0))

    def qualifying(self, segs: list[Run], work: int) -> list[Run]:
        """The parts of a chain that are findings, each as one run."""
        rule = self._index.works[work].rule
        ranges = qualifying(segs, self._index.own_words, rule.min_words, rule.min_share)
        return [
            Run(segs[i].g0, segs[j].g, segs[i].first, segs[j].last, segs[i].start, segs[j].end)
            for i, j in ranges
        ]

    @property
    def busy(self) -> bool:
        """Whether any chain is kept or waits to be settled."""
        return bool(self.items or self._done)

    def close(self, n: int, runs: list[Run], final: bool) -> list[tuple[Run, int]]:
        """Settle the chains no later segment can join (all when ``final``): their findings.

        ``n``: output words so far; ``runs``: exact runs still being followed.
        """
        index = self._index
        seed = index.window + index.stride - 1
        keep: list[tuple[list[Run], int]] = []
        out = [(run, work) for segs, work in self._done for run in self.qualifying(segs, work)]
        self._done = []
        for segs, work in self.items:
            reach = segs[-1].last + index.works[work].rule.max_gap_words + 1
            sealed = segs[-1].last < self.barrier  # only a run begun before may join
            # A segment starting within the gap is found by its seed's last word.
            joinable = (n <= reach + seed and not sealed) or any(
                run.first <= reach
                and (run.first < self.barrier or not sealed)
                and index.work_index(run.g0) == work
                for run in runs
            )
            if joinable and not final:
                keep.append((segs, work))
            else:
                out += [(run, work) for run in self.qualifying(segs, work)]
        self.items = keep
        return out

    def hold(self, safe: int) -> int:
        """``safe`` lowered to where the chains must be held from.

        A chain's first segments may go out while they hold at most ``min_words - stride -
        3 * loose`` aligned words: at most ``stride - 1 + 3 * loose`` more can slip out
        before the next segment's seed is found (with a short stride, a live match's first
        words, see ``MatchIndex.loose``), so what is out never makes ``min_words`` aligned.
        """
        index = self._index
        for segs, work in self.items:
            budget = index.works[work].rule.min_words - index.stride - 3 * index.loose
            total = 0
            for seg in segs:
                total += index.own_words(seg.g0, seg.g)
                if total > budget:
                    safe = min(safe, seg.start)
                    break
        return safe


__all__ = ["Chains", "Run", "gaps", "qualifying"]
