"""The hashes the index file is keyed by, computed the same way at build (numpy) and query.

A run of word ids hashes as FNV-1a over the 32-bit ids, then a splitmix64 finaliser, so
the hash of a run extends by one word in O(1).  A word hashes as xxh3-64 of its UTF-8.
Every table is a sorted array cut into buckets by the hash's top ``bits`` (a directory of
first indexes, four to eight entries per bucket); an entry keeps the 32 hash bits below the
bucket number as its fingerprint, so a lookup is two directory reads and a bisect in C.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

SEED = 0xCBF29CE484222325
PRIME = 0x100000001B3
M64 = (1 << 64) - 1
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def step(state: int, wid: int) -> int:
    """The run hash's state after one more word."""
    return ((state ^ wid) * PRIME) & M64


def mix(state: int) -> int:
    """The hash of a run from its state (the splitmix64 finaliser)."""
    state ^= state >> 30
    state = (state * _M1) & M64
    state ^= state >> 27
    state = (state * _M2) & M64
    return state ^ (state >> 31)


def run_state(ids: Sequence[int]) -> int:
    state = SEED
    for wid in ids:
        state = ((state ^ wid) * PRIME) & M64
    return state


def table_bits(entries: int) -> int:
    """Directory bits for a table of ``entries``: four to eight entries per bucket."""
    return max(0, min(32, max(entries, 1).bit_length() - 3))


class Table:
    """A bucketed, sorted hash table over read-only sequences (memoryviews of the map)."""

    __slots__ = ("_dir", "_fp", "_fp_shift", "_shift")

    def __init__(self, directory: Sequence[int], fingerprints: Sequence[int], bits: int) -> None:
        self._dir, self._fp = directory, fingerprints
        self._shift, self._fp_shift = 64 - bits, 32 - bits

    def find(self, h: int) -> tuple[int, int]:
        """The index range of the entries whose hash may be ``h`` (empty: surely none)."""
        bucket = h >> self._shift
        fp = (h >> self._fp_shift) & 0xFFFFFFFF
        fps = self._fp
        lo, hi = self._dir[bucket], self._dir[bucket + 1]
        i = bisect_left(fps, fp, lo, hi)
        if i == hi or fps[i] != fp:
            return i, i  # the usual answer on clean text: no entry
        # a common window has hundreds of entries of one fingerprint: a bisect, not a scan
        return i, bisect_right(fps, fp, i + 1, hi)
