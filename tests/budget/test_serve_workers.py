"""``copyguard serve --workers 2`` with one Redis: both worker processes keep one budget."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.demo import DemoSettings, make_demo_app
from proxy.matching.normalize import words
from tests.budget.redis_server import RedisServer
from tests.conftest import REPO
from tests.extraction.attacks import SLICE, next_slice
from tests.operate.test_serve_process import free_port

BUDGET = 100


@pytest.fixture
async def demo(book: Path) -> AsyncIterator[str]:
    """The demo upstream answering slices of the book."""
    runner = web.AppRunner(make_demo_app(DemoSettings(rules_dir=book, delay_ms=0)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield "http://{}:{}".format(*runner.addresses[0][:2])
    finally:
        await runner.cleanup()


async def test_two_serve_workers_share_one_budget_through_redis(
    book: Path, demo: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Slices spread over both worker processes (new connection each) stop at one budget."""
    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "COPYGUARD_UPSTREAM": demo,
        "COPYGUARD_RULES": str(book),
        "COPYGUARD_LISTEN": listen,
        "COPYGUARD_CACHE_DIR": str(tmp_path / "cache"),
        "COPYGUARD_WORKERS": "2",
        "COPYGUARD_BUDGET_STORE": redis_server.url,
        "COPYGUARD_GRACE_PERIOD": "2",
        "COPYGUARD_LOG_LEVEL": "warning",
        "TMPDIR": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "serve", cwd=REPO, env=env
    )
    base = f"http://{listen}"
    body = {"model": "copyguard-demo", "messages": [{"role": "user", "content": "next"}]}
    try:
        fresh = aiohttp.TCPConnector(force_close=True)  # a new connection: either worker
        async with aiohttp.ClientSession(connector=fresh) as s:
            up: set[str] = set()
            async with asyncio.timeout(60):  # until both workers have answered
                while len(up) < 2:
                    try:
                        async with s.get(f"{base}/healthz") as r:
                            up.add(r.headers["X-Copyguard-Worker"])
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
            got, workers = 0, set()
            for i in range(20):
                headers = {"Authorization": "Bearer sk-spread", **next_slice(SLICE * i)}
                url = f"{base}/v1/chat/completions"
                async with s.post(url, json=body, headers=headers) as r:
                    assert r.status == 200
                    data = await r.json()
                    workers.add(r.headers["X-Copyguard-Worker"])
                got += len(words(data["choices"][0]["message"]["content"]))
        print(f"20 requests over workers {sorted(workers)}: {got} words")
        assert BUDGET <= got <= BUDGET + SLICE
        assert len(workers) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
