"""Catalogue boilerplate at build time, as ``proxy.matching.boilerplate.mark`` finds it, in numpy.

Every run of ``SHINGLE`` words is hashed (the run hash of ``hashing``); a run shared by
``min_works`` works or more, or found in the background corpus, marks its words.  The
hashes of distinct runs per work go to partition files as batches arrive (bounded
memory; ``RunCounter``), each partition is counted on its own, then a second pass over
``source`` marks the words (``mark``).  The result is
a sorted list of marked stretches (few, so ``own_words`` is a bisect) and their counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from proxy.matching.boilerplate import SHINGLE, BoilerplateRun
from proxy.matching.kgram.hashing import PRIME, SEED

_U64 = np.uint64
_PARTS = 64
_CHUNK_WORDS = 4 << 20
_FILTER_BITS = 24
_Ids = npt.NDArray[np.int64]
Mix = Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.uint64]]


def _grams(
    source: npt.NDArray[np.uint32],
    starts: npt.NDArray[np.int64],
    lens: npt.NDArray[np.int64],
    mix: Mix,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """(work number within the chunk, position, hash) of every run without unknown words.

    The works lie one after another, each after a 0, so a run at every position of their
    span is hashed from contiguous slices; a run across two works holds that 0 and drops
    out with the runs holding an unknown word.
    """
    lo = int(starts[0]) if len(starts) else 0
    hi = int(starts[-1] + lens[-1]) if len(starts) else 0
    n = hi - lo - SHINGLE + 1
    if n <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=_U64)
    seg = np.asarray(source[lo:hi]).astype(_U64)
    state = np.full(n, SEED, dtype=_U64)
    valid = np.ones(n, dtype=bool)
    for k in range(SHINGLE):
        w = seg[k : k + n]
        valid &= w != 0
        state ^= w
        state *= _U64(PRIME)
    pos = np.flatnonzero(valid) + lo
    owner = np.searchsorted(starts, pos, side="right") - 1
    return owner, pos, mix(state[valid])


def _distinct_pairs(
    owner: npt.NDArray[np.int64], h: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """The hash of each distinct (run, work) pair, sorted.

    Most runs occur once, so only the runs seen more than once are sorted by work too.
    """
    hs = np.sort(h)
    again = hs[1:] == hs[:-1]
    if not again.any():
        return hs
    repeated = _distinct(hs[1:][again])
    idx = np.flatnonzero(_members(repeated, h) >= 0)
    hd, od = h[idx], owner[idx]
    sub = np.lexsort((od, hd))
    hd, od = hd[sub], od[sub]
    first = np.r_[True, (hd[1:] != hd[:-1]) | (od[1:] != od[:-1])]
    once = hs[_members(repeated, hs) < 0]
    return np.sort(np.concatenate([once, hd[first]]))


def _distinct(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _members(table: npt.NDArray[np.uint64], h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
    """Where in ``table`` (sorted, distinct) each of ``h`` is, or -1.

    A bitmap of the table's top bits rules out nearly every hash before a binary search.
    """
    at = np.full(len(h), -1, dtype=np.intp)
    if not len(table) or not len(h):
        return at
    shift = _U64(64 - _FILTER_BITS)
    bitmap = np.zeros(1 << _FILTER_BITS, dtype=bool)
    bitmap[table >> shift] = True
    maybe = np.flatnonzero(bitmap[h >> shift])
    found = np.minimum(np.searchsorted(table, h[maybe]), len(table) - 1)
    hit = table[found] == h[maybe]
    at[maybe[hit]] = found[hit]
    return at


def _chunks(lens: Sequence[int]) -> list[tuple[int, int]]:
    out, first = [], 0
    while first < len(lens):
        last, words = first, 0
        while last < len(lens) and words < _CHUNK_WORDS:
            words += lens[last]
            last += 1
        out.append((first, last))
        first = last
    return out


def background_hashes(texts: Sequence[Sequence[int]], mix: Mix) -> npt.NDArray[np.uint64]:
    """Sorted distinct run hashes of the background corpus (word ids, 0 for unknown)."""
    parts = [np.asarray([0, *ids, 0], dtype=np.uint32) for ids in texts]
    if not parts:
        return np.zeros(0, dtype=_U64)
    src = np.concatenate(parts)
    lens = np.array([len(ids) for ids in texts], dtype=np.int64)
    starts = np.cumsum(lens + 2) - lens - 1
    _, _, h = _grams(src, starts, lens, mix)
    return np.unique(h)


class RunCounter:
    """Pass one, batch by batch: each work's distinct runs, to partition files by hash."""

    def __init__(self, tmp: Path, mix: Mix) -> None:
        self.tmp, self.mix = tmp, mix
        self.files = [(tmp / f"bp-{p}").open("wb") for p in range(_PARTS)]

    def add(
        self,
        block: npt.NDArray[np.uint32],
        firsts: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
    ) -> None:
        owner, _, h = _grams(block, firsts, lens, self.mix)
        pairs = _distinct_pairs(owner, h)  # count works, not runs
        cuts = np.searchsorted(pairs >> _U64(58), np.arange(_PARTS + 1))
        for p in range(_PARTS):
            if cuts[p] < cuts[p + 1]:
                self.files[p].write(pairs[cuts[p] : cuts[p + 1]].tobytes())

    def close(self) -> None:
        for f in self.files:
            f.close()

    def common(self, min_works: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """The runs in ``min_works`` works or more (sorted) and in how many works each is."""
        hs, ns = [np.zeros(0, dtype=_U64)], [np.zeros(0, dtype=np.int64)]
        for p in range(_PARTS):
            h = np.sort(np.fromfile(self.tmp / f"bp-{p}", dtype=_U64))
            if len(h):
                new = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
                n = np.diff(np.r_[new, len(h)])
                hs.append(h[new][n >= min_works])
                ns.append(n[n >= min_works])
        return np.concatenate(hs), np.concatenate(ns)


def mark(
    source: Path,
    starts: Sequence[int],
    lens: Sequence[int],
    seen: npt.NDArray[np.uint64],
    common: tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]] | None,
    keep: set[int],
    mix: Mix,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], list[BoilerplateRun]]:
    """Marked stretches [start, end) of the ``source`` file's words and the runs as
    ``BoilerplateRun``.

    ``common``: what ``RunCounter.common`` found (None: shared runs not looked for).  The
    file is read a chunk at a time (not mapped: its pages would count as the build's).
    """
    ws, wl = np.asarray(starts, dtype=np.int64), np.asarray(lens, dtype=np.int64)
    chunks = _chunks(lens)
    common_h, common_n = common or (np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64))
    flag_s: list[npt.NDArray[np.int64]] = []
    flag_e: list[npt.NDArray[np.int64]] = []
    runs: list[BoilerplateRun] = []
    for first, last in chunks:
        lo, hi = int(ws[first]), int(ws[last - 1] + wl[last - 1])
        words = np.fromfile(source, dtype=np.uint32, count=hi - lo, offset=4 * lo)
        owner, pos, h = _grams(words, ws[first:last] - lo, wl[first:last], mix)
        pos += lo
        at = _members(common_h, h)
        shared = at >= 0
        hit = shared | (_members(seen, h) >= 0)
        if keep:
            hit &= ~np.isin(owner + first, np.fromiter(keep, dtype=np.int64, count=len(keep)))
        if not hit.any():
            continue
        count = np.where(shared, common_n[at] if len(common_n) else 1, 1)[hit]
        pos, owner = pos[hit], owner[hit]
        lo, hi = int(pos.min()), int(pos.max()) + SHINGLE
        flags = np.zeros(hi - lo, dtype=np.int64)  # the most works sharing each word's run
        for k in range(SHINGLE):
            np.maximum.at(flags, pos - lo + k, count)
        edges = np.flatnonzero(np.diff(np.r_[0, (flags > 0).astype(np.int8), 0]))
        s_rel, e_rel = edges[::2], edges[1::2]
        most = np.maximum.reduceat(flags, s_rel)  # each stretch starts a reduction segment
        s_abs = s_rel + lo
        work = np.searchsorted(ws, s_abs, side="right") - 1
        for w, a, b, m in zip(
            work.tolist(),
            (s_abs - ws[work]).tolist(),
            (e_rel + lo - ws[work]).tolist(),
            most.tolist(),
            strict=True,
        ):
            runs.append(BoilerplateRun(w, a, b, m, m <= 1))
        flag_s.append(s_abs)
        flag_e.append(e_rel + lo)
    if not flag_s:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32), runs
    return (
        np.concatenate(flag_s).astype(np.uint32),
        np.concatenate(flag_e).astype(np.uint32),
        runs,
    )
