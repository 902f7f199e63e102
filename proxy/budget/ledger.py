"""What an answer adds to a key's budget: distinct word positions of each work (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proxy.matching.seam import Finding


@dataclass(frozen=True, slots=True)
class Take:
    """The positions of one work an answer reproduced, and the key's limit for that work."""

    positions: frozenset[int]
    limit: int


def takes(
    found: Iterable[Finding], carried: Iterable[Finding], limits: Mapping[str, int]
) -> dict[str, Take]:
    """Per work with a budget: the answer's positions that the request did not carry itself.

    Runs of the fine index only (``budget_min_run`` words or more), so a line quoted a
    thousand times counts once; at most ``limit + 1`` positions per work, which is all a
    store needs to know that the budget is spent (a bounded write however long the answer).
    """
    own: dict[str, set[int]] = {}
    for f in carried:
        own.setdefault(f.work, set()).update(range(f.source_start, f.source_end))
    out: dict[str, Take] = {}
    for f in found:
        limit = limits.get(f.work, 0)
        if limit <= 0:
            continue
        seen = set(range(f.source_start, f.source_end)) - own.get(f.work, set())
        if not seen:
            continue
        before = out.get(f.work)
        merged = seen | before.positions if before else seen
        out[f.work] = Take(frozenset(sorted(merged)[: limit + 1]), limit)
    return out
