"""Budgets through Redis at the proxy: two workers share one count, and Redis going away."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from proxy.budget.identity import client_key
from proxy.demo import DemoSettings
from proxy.matching.normalize import words
from tests.budget.redis_server import RedisServer
from tests.extraction.attacks import SLICE, next_slice
from tests.proxy.harness import Stack, StartStack

BUDGET = 100


async def ask(base: str, at: int, key: str = "sk-shared") -> tuple[int, str, str]:
    """Eight words of the work from ``at``: (status, content, finish_reason or error type)."""
    body = {"model": "copyguard-demo", "messages": [{"role": "user", "content": "next"}]}
    headers = {"Authorization": f"Bearer {key}", **next_slice(at)}
    async with (
        aiohttp.ClientSession() as s,
        s.post(base + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        data = await r.json()
    if r.status != 200:
        return r.status, "", data["error"]["type"]
    choice = data["choices"][0]
    return r.status, choice["message"]["content"], choice["finish_reason"]


async def workers(start_stack: StartStack, book: Path, url: str, mode: str) -> list[Stack]:
    demo = DemoSettings(rules_dir=book, delay_ms=0)
    return [
        await start_stack(rules=book, demo=demo, budget_store=url, fail_mode=mode) for _ in range(2)
    ]


def errors(stack: Stack, op: str, mode: str) -> float:
    value = stack.state.metrics.registry.get_sample_value(
        "copyguard_budget_store_errors_total", {"op": op, "mode": mode}
    )
    return value or 0.0


async def test_two_workers_share_one_budget(
    start_stack: StartStack, book: Path, redis_server: RedisServer
) -> None:
    """Requests of one key spread over two workers are counted once, together, in Redis."""
    stacks = await workers(start_stack, book, redis_server.url, "closed")
    got = [await ask(stacks[i % 2].proxy, SLICE * i) for i in range(20)]
    total = sum(len(words(content)) for _, content, _ in got)
    assert BUDGET <= total <= BUDGET + SLICE
    assert [finish for _, _, finish in got[13:]] == ["content_filter"] * 7
    # each worker is blocked now, and each sees the same spent work
    for stack in stacks:
        assert stack.state.budgets is not None
        assert await stack.state.budgets.store.spent(_key("sk-shared")) == {"books/alice"}


def _key(raw: str) -> str:
    return client_key({"Authorization": f"Bearer {raw}"}, None)


async def test_redis_stopped_fail_closed_answers_the_format_error(
    start_stack: StartStack, book: Path, redis_server: RedisServer
) -> None:
    """fail_mode closed: with Redis gone the request gets the format's error, then recovers."""
    stack = (await workers(start_stack, book, redis_server.url, "closed"))[0]
    assert (await ask(stack.proxy, 0))[0] == 200
    redis_server.stop()
    status, _, kind = await ask(stack.proxy, SLICE)
    assert status == 503 and kind  # OpenAI's error shape, with its type
    assert errors(stack, "spent", "closed") >= 1
    redis_server.start()
    assert (await ask(stack.proxy, 2 * SLICE))[:1] == (200,)


async def test_redis_stopped_fail_open_keeps_serving_on_the_local_count(
    start_stack: StartStack, book: Path, redis_server: RedisServer
) -> None:
    """fail_mode open: with Redis gone the proxy keeps serving and counts in memory."""
    stack = (await workers(start_stack, book, redis_server.url, "open"))[0]
    assert (await ask(stack.proxy, 0))[0] == 200
    redis_server.stop()
    got = [await ask(stack.proxy, SLICE * i) for i in range(1, 20)]
    assert all(status == 200 for status, _, _ in got)
    assert errors(stack, "spent", "open") >= 19 and errors(stack, "add", "open") >= 1
    # the local count still holds the key to its budget
    assert got[-1][2] == "content_filter"
