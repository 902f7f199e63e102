"""Exact aligned runs and the helpers the near-verbatim chains use on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence


class Run:
    """Output words aligned, one for one, with consecutive source words."""

    __slots__ = ("end", "first", "g", "g0", "last", "start", "work")

    def __init__(
        self, g0: int, g: int, first: int, last: int, start: int, end: int, work: int
    ) -> None:
        self.g0, self.g = g0, g  # source positions of the first and last aligned word
        self.first, self.last = first, last  # output word numbers
        self.start, self.end = start, end  # output character offsets
        self.work = work  # the work number of ``g0`` (``SeedIndex.work_index``)


def hold_budget(min_words: int, stride: int, loose: int) -> int:
    """Aligned words a chain's first segments may hold while they go out (``Chains.hold``)."""
    return min_words - stride - 3 * loose


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


def after(prev: Run, run: Run, max_gap: int, barrier: int) -> Run | None:
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
    return Run(run.g0 + cut, run.g, run.first + cut, run.last, run.start, run.end, run.work)


__all__ = ["Run", "after", "gaps", "hold_budget", "qualifying"]
