"""The budget store seam, and the in-memory store (one process, bounded, LRU)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

from proxy.budget.ledger import Take


class StoreError(Exception):
    """The store could not be reached or answered nonsense (the fail policy decides)."""


class BudgetStore(Protocol):
    """Distinct positions per (key, work) over a window; which works a key has spent."""

    async def spent(self, key: str) -> frozenset[str]:
        """The works whose budget ``key`` has used up (within the window)."""
        ...

    async def add(self, key: str, takes: Mapping[str, Take]) -> dict[str, int]:
        """Count the positions in; return each work's distinct count after it."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """Counts in this process: at most ``max_keys`` keys, least recently used dropped first."""

    def __init__(
        self, window: float, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        # key -> work -> (window end, positions); per work at most limit + 1 positions
        self._keys: OrderedDict[str, dict[str, tuple[float, set[int]]]] = OrderedDict()
        self._spent: dict[str, dict[str, float]] = {}

    def _works(self, key: str) -> dict[str, tuple[float, set[int]]]:
        now = self._clock()
        works = self._keys.get(key)
        if works is None:
            return {}
        self._keys.move_to_end(key)
        for work in [w for w, (end, _) in works.items() if end <= now]:
            del works[work]
        spent = self._spent.get(key, {})
        for work in [w for w, end in spent.items() if end <= now]:
            del spent[work]
        return works

    async def spent(self, key: str) -> frozenset[str]:
        self._works(key)
        return frozenset(self._spent.get(key, {}))

    async def add(self, key: str, takes: Mapping[str, Take]) -> dict[str, int]:
        works = self._works(key)
        if key not in self._keys:
            self._keys[key] = works
            while len(self._keys) > self._max_keys:
                old, _ = self._keys.popitem(last=False)
                self._spent.pop(old, None)
        out = {}
        for work, take in takes.items():
            end, seen = works.get(work) or (self._clock() + self._window, set())
            seen.update(sorted(take.positions - seen)[: max(0, take.limit + 1 - len(seen))])
            works[work] = (end, seen)
            out[work] = len(seen)
            if len(seen) >= take.limit:
                self._spent.setdefault(key, {})[work] = end
        return out

    def counts(self, key: str) -> dict[str, int]:
        """The distinct positions counted per work for ``key`` (for operators and tests)."""
        return {work: len(seen) for work, (_, seen) in self._works(key).items()}

    async def close(self) -> None:
        pass
