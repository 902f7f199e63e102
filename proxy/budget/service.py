"""Budgets as the handlers use them: the store, its fail policy and its metrics.

``spent`` runs before the answer is forwarded, ``add`` after it ended.  A store that fails
follows ``fail_mode``: closed, the request gets the format's error (``StoreError``); open,
the in-memory count of this process stands in, every fallback counted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram

from proxy.budget.ledger import Take
from proxy.budget.store import BudgetStore, MemoryStore, StoreError

_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class BudgetMetrics:
    """Budget blocks by collection, store errors and store latency by operation."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.blocks = Counter(
            "copyguard_budget_blocks",
            "Answers blocked because the key spent its budget for the work",
            ["collection"],
            registry=registry,
        )
        self.store_errors = Counter(
            "copyguard_budget_store_errors",
            "Budget store failures (mode: what the fail policy did)",
            ["op", "mode"],
            registry=registry,
        )
        self.store_latency = Histogram(
            "copyguard_budget_store_seconds",
            "Budget store round trips",
            ["op"],
            buckets=_SECONDS,
            registry=registry,
        )


class Budgets:
    """One per process: the configured store, with the in-memory count as fallback."""

    def __init__(
        self,
        store: BudgetStore,
        fallback: MemoryStore,
        fail_mode: Literal["closed", "open"],
        metrics: BudgetMetrics,
    ) -> None:
        self.store = store
        self._fallback = fallback
        self._fail_mode = fail_mode
        self.metrics = metrics

    async def spent(self, key: str) -> frozenset[str]:
        """The works ``key`` may take no more of; ``StoreError`` when closed and down."""
        t = time.perf_counter()
        try:
            return await self.store.spent(key)
        except StoreError:
            self.metrics.store_errors.labels("spent", self._fail_mode).inc()
            if self._fail_mode == "closed":
                raise
            return await self._fallback.spent(key)
        finally:
            self.metrics.store_latency.labels("spent").observe(time.perf_counter() - t)

    async def add(self, key: str, takes: Mapping[str, Take]) -> dict[str, int]:
        """Count an answer in (the answer is out: a failure can only be counted and logged)."""
        if not takes:
            return {}
        t = time.perf_counter()
        try:
            return await self.store.add(key, takes)
        except StoreError:
            self.metrics.store_errors.labels("add", self._fail_mode).inc()
            if self._fail_mode == "closed":
                raise
            return await self._fallback.add(key, takes)
        finally:
            self.metrics.store_latency.labels("add").observe(time.perf_counter() - t)

    async def close(self) -> None:
        await self.store.close()


def open_store(url: str, window: float, max_keys: int) -> BudgetStore:
    """``memory`` or a ``redis://`` / ``rediss://`` / ``unix://`` URL."""
    if url == "memory":
        return MemoryStore(window, max_keys)
    from proxy.budget.redis_store import RedisStore  # only deployments with Redis import it

    return RedisStore(url, window)
