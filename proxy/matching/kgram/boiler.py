"""Catalogue boilerplate at build time, as ``proxy.matching.boilerplate.mark`` finds it, in numpy.

Every run of ``SHINGLE`` words is hashed (the run hash of ``hashing``); a run shared by
``min_works`` works or more, or found in the background corpus, marks its words.  The
hashes of distinct runs per work go to partition files (bounded memory), each partition
is counted on its own, then a second pass over ``source`` marks the words.  The result is
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
Mix = Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.uint64]]


def _grams(
    source: npt.NDArray[np.uint32],
    starts: npt.NDArray[np.int64],
    lens: npt.NDArray[np.int64],
    mix: Mix,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """(work number within the chunk, position, hash) of every run without unknown words."""
    counts = np.maximum(0, lens - SHINGLE + 1)
    owner = np.repeat(np.arange(len(lens)), counts)
    pos = np.repeat(starts, counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    state = np.full(len(pos), SEED, dtype=_U64)
    valid = np.ones(len(pos), dtype=bool)
    for k in range(SHINGLE):
        w = source[pos + k].astype(_U64)
        valid &= w != 0
        state = (state ^ w) * _U64(PRIME)
    return owner[valid], pos[valid], mix(state)[valid]


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


def mark(
    source: npt.NDArray[np.uint32],
    starts: Sequence[int],
    lens: Sequence[int],
    seen: npt.NDArray[np.uint64],
    min_works: int,
    keep: set[int],
    tmp: Path,
    mix: Mix,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], list[BoilerplateRun]]:
    """Marked stretches [start, end) of ``source`` and the runs as ``BoilerplateRun``."""
    ws, wl = np.asarray(starts, dtype=np.int64), np.asarray(lens, dtype=np.int64)
    chunks = _chunks(lens)
    common_h, common_n = np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64)
    if min_works > 0:
        files = [(tmp / f"bp-{p}").open("wb") for p in range(_PARTS)]
        for first, last in chunks:
            owner, _, h = _grams(source, ws[first:last], wl[first:last], mix)
            order = np.lexsort((owner, h))  # distinct (run, work) pairs: count works, not runs
            h, owner = h[order], owner[order]
            pairs = h[np.r_[True, (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])]] if len(h) else h
            part = (pairs >> _U64(58)).astype(np.int64)
            for p in np.unique(part):
                files[p].write(pairs[part == p].tobytes())
        for f in files:
            f.close()
        hs, ns = [], []
        for p in range(_PARTS):
            h = np.sort(np.fromfile(tmp / f"bp-{p}", dtype=_U64))
            if len(h):
                new = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
                n = np.diff(np.r_[new, len(h)])
                hs.append(h[new][n >= min_works])
                ns.append(n[n >= min_works])
        if hs:
            common_h, common_n = np.concatenate(hs), np.concatenate(ns)
    flag_s: list[npt.NDArray[np.int64]] = []
    flag_e: list[npt.NDArray[np.int64]] = []
    runs: list[BoilerplateRun] = []
    for first, last in chunks:
        owner, pos, h = _grams(source, ws[first:last], wl[first:last], mix)
        at = np.minimum(np.searchsorted(common_h, h), max(len(common_h) - 1, 0))
        shared = (common_h[at] == h) if len(common_h) else np.zeros(len(h), dtype=bool)
        bg = np.isin(h, seen) if len(seen) else np.zeros(len(h), dtype=bool)
        kept = np.isin(owner + first, np.fromiter(keep, dtype=np.int64, count=len(keep)))
        hit = (shared | bg) & ~kept
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
