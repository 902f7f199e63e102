"""Reloading rules in a running proxy: swaps, streams in flight, bad rules, the admin token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from proxy.demo import DemoSettings
from proxy.demo.answers import echo64
from proxy.reload import RulesReloader
from tests.conftest import SAMPLE_RULES
from tests.operate.support import FERRY, add_ferry, ask, chat, metric
from tests.proxy.harness import StartStack, events


async def test_stream_in_flight_keeps_its_rules(start_stack: StartStack, rules_dir: Path) -> None:
    """A stream started before a reload that adds a work finishes unblocked; the next is blocked."""
    demo = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=15, chunk_chars=4)
    stack = await start_stack(rules=rules_dir, demo=demo)
    url = f"{stack.proxy}/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=chat(echo64(FERRY), stream=True)) as resp:
            body = bytearray(await resp.content.readany())  # the stream is under way
            add_ferry(rules_dir)
            async with session.post(f"{stack.proxy}/admin/reload") as r:
                result = await r.json()
            assert result["result"] == "ok" and result["works"] == 4, result
            assert not resp.content.at_eof(), "the stream ended before the reload: too fast"
            body += await resp.read()
        objs = events(bytes(body))
        text = "".join(o["choices"][0]["delta"].get("content") or "" for o in objs)
        assert text == FERRY
        assert objs[-1]["choices"][0]["finish_reason"] == "stop"

        content, finish, _ = await ask(session, stack.proxy, echo64(FERRY))
        assert finish == "content_filter"
        assert len(content.split()) < 12


async def test_stream_in_flight_keeps_a_work_the_new_rules_drop(
    start_stack: StartStack, rules_dir: Path
) -> None:
    """A stream under rules that protect a work is still blocked after a reload that drops it."""
    add_ferry(rules_dir)
    demo = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=15, chunk_chars=4)
    stack = await start_stack(rules=rules_dir, demo=demo)
    url = f"{stack.proxy}/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=chat(echo64(FERRY), stream=True)) as resp:
            body = bytearray(await resp.content.readany())
            (rules_dir / "poems" / "the-ferryman.txt").unlink()
            async with session.post(f"{stack.proxy}/admin/reload") as r:
                assert (await r.json())["works"] == 3
            body += await resp.read()
        objs = events(bytes(body))
        assert objs[-1]["choices"][0]["finish_reason"] == "content_filter"

        content, finish, _ = await ask(session, stack.proxy, echo64(FERRY))
        assert (content, finish) == (FERRY, "stop")


async def test_broken_rules_keep_the_old_ones(start_stack: StartStack, rules_dir: Path) -> None:
    """Rules that fail to load leave the old matcher serving; the reason and metrics say so."""
    stack = await start_stack(rules=rules_dir)
    add_ferry(rules_dir)
    (rules_dir / "extra.jsonl").write_text('{"id": "a", "text": "fine words here"}\n{oops\n')
    async with aiohttp.ClientSession() as session:
        hash_before = stack.state.index.content_hash[:16]
        async with session.post(f"{stack.proxy}/admin/reload") as r:
            assert r.status == 422
            result = await r.json()
        assert result["result"] == "error"
        assert "extra.jsonl:2" in result["reason"], result
        assert await metric(session, stack.proxy, "copyguard_rules_reload_total", result="error")
        assert not await metric(session, stack.proxy, "copyguard_rules_reload_total", result="ok")
        assert await metric(session, stack.proxy, "copyguard_rules_works") == 3
        assert await metric(session, stack.proxy, "copyguard_rules_info", hash=hash_before) == 1
        content, finish, _ = await ask(session, stack.proxy, echo64(FERRY))
        assert finish == "stop"  # the old rules, without the ferryman, are in force

        (rules_dir / "extra.jsonl").unlink()
        async with session.post(f"{stack.proxy}/admin/reload") as r:
            result = await r.json()
        assert result["result"] == "ok" and result["hash"] != hash_before
        assert await metric(session, stack.proxy, "copyguard_rules_works") == 4
        assert await metric(session, stack.proxy, "copyguard_rules_info", hash=result["hash"]) == 1
        assert await metric(session, stack.proxy, "copyguard_rules_info", hash=hash_before) == 0
        _, finish, _ = await ask(session, stack.proxy, echo64(FERRY))
        assert finish == "content_filter"


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), ("s3cret", 401), ("Bearer s3cret", 200)],
)
async def test_admin_token(
    start_stack: StartStack, rules_dir: Path, header: str | None, status: int
) -> None:
    """With admin_token set, /admin/reload wants exactly that bearer token."""
    stack = await start_stack(rules=rules_dir, admin_token="s3cret")
    headers = {"Authorization": header} if header else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.proxy}/admin/reload", headers=headers) as r,
    ):
        assert r.status == status
        assert (await r.json())["result"] == ("ok" if status == 200 else "error")


async def test_concurrent_reloads_are_serialised(start_stack: StartStack, rules_dir: Path) -> None:
    """Reloads asked for at once run one after the other and all see the last rules."""
    stack = await start_stack(rules=rules_dir)
    reloader = RulesReloader(stack.state)
    add_ferry(rules_dir)
    results = await asyncio.gather(*(reloader.reload("test") for _ in range(3)))
    assert [r["works"] for r in results] == [4, 4, 4]
    assert [r["changed"] for r in results] == [True, False, False]


async def test_watch_reloads_on_change(start_stack: StartStack, rules_dir: Path) -> None:
    """With the watcher running, adding a file under the rules folder swaps the matcher in."""
    stack = await start_stack(rules=rules_dir)
    before = stack.state.index
    watcher = asyncio.create_task(RulesReloader(stack.state).watch())
    try:
        async with asyncio.timeout(10):
            while stack.state.index is before:
                add_ferry(rules_dir)  # again, in case the watcher was not up yet
                await asyncio.sleep(1.0)
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher
    assert len(stack.state.index.works) == 4


async def test_rules_info_keeps_the_replaced_hash_at_zero(
    start_stack: StartStack, rules_dir: Path
) -> None:
    """One process: after a reload the old hash is still exported, at 0, beside the new at 1."""
    stack = await start_stack(rules=rules_dir)
    registry = stack.state.metrics.registry
    before = stack.state.index.content_hash[:16]
    add_ferry(rules_dir)
    async with aiohttp.ClientSession() as s, s.post(f"{stack.proxy}/admin/reload") as r:
        after = (await r.json())["hash"]
    assert registry.get_sample_value("copyguard_rules_info", {"hash": before}) == 0.0
    assert registry.get_sample_value("copyguard_rules_info", {"hash": after}) == 1.0


def test_rules_info_keeps_a_bounded_number_of_replaced_hashes(tmp_path: Path) -> None:
    """Many reloads: the last KEEP_REPLACED_HASHES replaced hashes at 0, older ones dropped."""
    from prometheus_client import CollectorRegistry

    from proxy.metrics import KEEP_REPLACED_HASHES, Metrics
    from tests.proxy.harness import index_for

    metrics = Metrics(CollectorRegistry(), 10)
    hashes = []
    for i in range(KEEP_REPLACED_HASHES + 3):
        rules = tmp_path / str(i)
        rules.mkdir()
        (rules / "w.txt").write_text(f"{FERRY} version {i}")
        index = index_for(rules)
        metrics.rules_loaded(index, 0.1, 0.0)
        hashes.append(index.content_hash[:16])
    sample = metrics.registry.get_sample_value
    values = [sample("copyguard_rules_info", {"hash": h}) for h in hashes]
    assert values == [None] * 2 + [0.0] * KEEP_REPLACED_HASHES + [1.0]
