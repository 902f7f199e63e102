"""A second automaton over the same catalogue for short runs (budgets and context spans).

The main index guarantees runs of ``min_words`` (12 by default).  Counting what a key takes
over many requests, and finding the protected pieces a request carries, needs runs as short as
``budget_min_run`` (6): the same vocabulary and source word sequence, with windows loaded for
that length.  Its works report ``min_words = budget_min_run`` (and no gap rule) so its sessions
find exactly those runs.  Built once per compiled index and run length (pure CPU; prewarm it
off the event loop).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from weakref import WeakKeyDictionary

from proxy.matching.aho.index import (
    MatchIndex,
    _starters,
    add_windows,
    window_and_stride,
    windows_automaton,
)

_built: WeakKeyDictionary[MatchIndex, dict[int, MatchIndex]] = WeakKeyDictionary()
_lock = threading.Lock()


def cached_fine_index(index: MatchIndex, min_run: int) -> MatchIndex | None:
    """The fine index if already built."""
    with _lock:
        return _built.get(index, {}).get(min_run)


def fine_index(index: MatchIndex, min_run: int) -> MatchIndex:
    """The index for runs of ``min_run`` words over ``index``'s catalogue (memoised)."""
    found = cached_fine_index(index, min_run)
    if found is not None:
        return found
    fine = _build(index, min_run)
    with _lock:
        return _built.setdefault(index, {}).setdefault(min_run, fine)


def _build(index: MatchIndex, min_run: int) -> MatchIndex:
    window, stride = window_and_stride(min_run)
    codes, source = index.codes, index.source
    postings: dict[str, list[int]] = {}
    bounds = [*index.work_starts, len(source)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        add_windows(
            postings, source[start : end - 1], start, window, stride, codes
        )  # a 0 ends each work
    automaton, multi = windows_automaton(postings)
    # Exact runs only: at this length the gap rule would match ordinary prose by chance
    # (a key's budget would fill up with words it never took).
    works = tuple(
        replace(w, rule=replace(w.rule, min_words=min_run, max_gap_words=0)) for w in index.works
    )
    fine = MatchIndex(
        vocab=index.vocab,
        source=source,
        work_starts=index.work_starts,
        works=works,
        automaton=automaton,
        multi=multi,
        window=window,
        stride=stride,
        allow=index.allow,
        content_hash=index.content_hash,
        starters=_starters(postings, index.vocab, codes),
    )
    return fine
