"""Both budget stores, the in-memory one and a real Redis server, held to the same contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from proxy.budget.ledger import Take
from proxy.budget.redis_store import RedisStore
from proxy.budget.store import BudgetStore, MemoryStore, StoreError
from tests.budget.redis_server import RedisServer

WINDOW = 1.0  # seconds: small, so the window's end can be waited for

MakeStore = Callable[[float], BudgetStore]


@pytest.fixture(params=["memory", "redis"])
async def make_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MakeStore]:
    """Stores of one kind (several may share one Redis server), all closed afterwards."""
    made: list[BudgetStore] = []
    server: RedisServer | None = None
    if request.param == "redis":
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        server.start()

    def make(window: float) -> BudgetStore:
        store: BudgetStore = (
            RedisStore(server.url, window) if server is not None else MemoryStore(window)
        )
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            await store.close()
        if server is not None:
            server.stop()


def take(positions: range, limit: int = 10) -> dict[str, Take]:
    return {"books/a": Take(frozenset(positions), limit)}


async def test_counts_distinct_positions(make_store: MakeStore) -> None:
    """The same words counted twice count once; new ones add up."""
    store = make_store(60)
    assert await store.add("k", take(range(0, 4))) == {"books/a": 4}
    assert await store.add("k", take(range(2, 6))) == {"books/a": 6}
    assert await store.spent("k") == frozenset()


async def test_spent_at_the_limit_and_bounded(make_store: MakeStore) -> None:
    """A work is spent once the key reached its limit; no more than limit + 1 are kept."""
    store = make_store(60)
    assert await store.add("k", take(range(0, 500))) == {"books/a": 11}
    assert await store.spent("k") == frozenset({"books/a"})


async def test_keys_are_isolated(make_store: MakeStore) -> None:
    """One key's spending leaves another's count at zero."""
    store = make_store(60)
    await store.add("k1", take(range(0, 50)))
    assert await store.spent("k2") == frozenset()
    assert await store.add("k2", take(range(0, 3))) == {"books/a": 3}


async def test_window_expires(make_store: MakeStore) -> None:
    """After the window the count starts again from zero."""
    store = make_store(WINDOW)
    await store.add("k", take(range(0, 50)))
    assert await store.spent("k") == frozenset({"books/a"})
    await asyncio.sleep(WINDOW + 0.3)
    assert await store.spent("k") == frozenset()
    assert await store.add("k", take(range(0, 2))) == {"books/a": 2}


async def test_concurrent_adds_from_two_clients_count_once(make_store: MakeStore) -> None:
    """Two clients of one store adding overlapping words at once: each word counted once."""
    a, b = make_store(60), make_store(60)
    if isinstance(a, MemoryStore):
        b = a  # one process, one count
    limit = 1000
    await asyncio.gather(
        *(
            s.add("k", {"books/a": Take(frozenset(range(i, i + 20)), limit)})
            for i in range(0, 200, 10)
            for s in (a, b)
        )
    )
    assert await a.add("k", {"books/a": Take(frozenset(), limit)}) == {"books/a": 210}


async def test_unreachable_redis_is_a_store_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A Redis that is gone answers StoreError (what the fail policy acts on), quickly."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    store = RedisStore(server.url, 60, timeout=0.3)
    try:
        await store.add("k", take(range(0, 3)))
        server.stop()
        with pytest.raises(StoreError):
            await store.spent("k")
        with pytest.raises(StoreError):
            await store.add("k", take(range(3, 6)))
    finally:
        await store.close()
