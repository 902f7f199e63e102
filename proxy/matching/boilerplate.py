"""Catalogue boilerplate: word runs in a work that are not the work's own.

A publisher's catalogue carries licences, copyright notices, disclaimers and credits that
appear in many works or anywhere on the web.  Such a run must not make a finding by
itself (an ordinary website disclaimer is not a novel).  At build time every run of
``SHINGLE`` words is marked as boilerplate when it is shared by ``min_works`` works or
more, or occurs in a background corpus: the standard legal language shipped with
copyguard (``boilerplate.txt``) and any corpus the operator names.  A finding then needs
``min_words`` words of the work's own besides any boilerplate it runs through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

#: Length of the runs compared (words); shorter runs are too common to mean boilerplate.
SHINGLE = 8


@dataclass(frozen=True, slots=True)
class BoilerplateRun:
    """A stretch of a work marked as boilerplate, for ``copyguard scan --boilerplate``."""

    work: int  # index into the compiled works
    start: int  # word offsets in the work, [start, end)
    end: int
    works: int  # how many works share it (1: found in the background corpus only)
    background: bool


def builtin_corpus() -> str:
    """The standard legal language shipped with copyguard."""
    return resources.files("proxy.matching").joinpath("boilerplate.txt").read_text("utf-8")


def _grams(ids: Sequence[int], n: int) -> list[int]:
    """Hash of each run of ``n`` ids starting at each position (0 where a run has unknowns)."""
    out = []
    for p in range(len(ids) - n + 1):
        chunk = tuple(ids[p : p + n])
        out.append(0 if 0 in chunk else hash(chunk) or 1)
    return out


def mark(
    works: Sequence[Sequence[int]],
    background: Sequence[Sequence[int]],
    min_works: int,
    keep: Sequence[bool],
) -> tuple[list[bytearray], list[BoilerplateRun]]:
    """Per work, 1 for each word inside boilerplate; and the runs found, with their counts.

    ``works`` and ``background`` are word ids; ``keep[i]`` keeps work i protected whole.
    """
    n = SHINGLE
    grams = [_grams(ids, n) for ids in works]
    shared: Counter[int] = Counter()
    for g in grams:
        shared.update(set(g))
    shared[0] = 0
    common = {h for h, c in shared.items() if c >= min_works} if min_works > 0 else set()
    seen = {h for ids in background for h in _grams(ids, n)}
    seen.discard(0)
    marks, runs = [], []
    for w, (ids, g) in enumerate(zip(works, grams, strict=True)):
        flags = bytearray(len(ids))
        if not keep[w]:
            counts: list[int] = [0] * len(ids)
            for p, h in enumerate(g):
                if h in common or h in seen:
                    flags[p : p + n] = b"\x01" * n
                    c = shared[h] if h in common else 1
                    for q in range(p, p + n):
                        counts[q] = max(counts[q], c)
            runs += _runs(w, flags, counts)
        marks.append(flags)
    return marks, runs


def _runs(work: int, flags: bytearray, counts: list[int]) -> list[BoilerplateRun]:
    out: list[BoilerplateRun] = []
    p = 0
    while True:
        start = flags.find(1, p)
        if start < 0:
            return out
        end = flags.find(0, start)
        end = len(flags) if end < 0 else end
        most = max(counts[start:end])
        out.append(BoilerplateRun(work, start, end, most, most <= 1))
        p = end


__all__ = ["SHINGLE", "BoilerplateRun", "builtin_corpus", "mark"]
