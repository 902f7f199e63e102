"""``copyguard serve`` as a process: SIGHUP reloads, N workers share a port, metrics and reloads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.demo import DemoSettings, make_demo_app
from proxy.demo.answers import echo64
from tests.conftest import REPO, SAMPLE_RULES
from tests.operate.support import FERRY, add_ferry, ask, metric

StartServe = Callable[..., Awaitable[tuple[str, asyncio.subprocess.Process]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def start_serve(tmp_path: Path) -> AsyncIterator[StartServe]:
    """Start the demo upstream and ``copyguard serve`` with COPYGUARD_* settings; stop both."""
    async with AsyncExitStack() as stack:
        runner = web.AppRunner(make_demo_app(DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0)))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        upstream = "http://{}:{}".format(*runner.addresses[0][:2])

        async def start(rules: Path, **env: str) -> tuple[str, asyncio.subprocess.Process]:
            listen = f"127.0.0.1:{free_port()}"
            settings = {
                "COPYGUARD_UPSTREAM": upstream,
                "COPYGUARD_RULES": str(rules),
                "COPYGUARD_LISTEN": listen,
                "COPYGUARD_CACHE_DIR": str(tmp_path / "cache"),
                "COPYGUARD_GRACE_PERIOD": "2",
                "COPYGUARD_LOG_LEVEL": "warning",
                "TMPDIR": str(tmp_path),  # the metrics directory, even if the parent is killed
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "proxy.cli",
                "serve",
                cwd=REPO,
                env={**os.environ, **settings, **env},
            )

            async def stop() -> None:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        async with asyncio.timeout(20):
                            await proc.wait()
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()

            stack.push_async_callback(stop)
            base = f"http://{listen}"
            async with aiohttp.ClientSession() as session, asyncio.timeout(30):
                while True:
                    assert proc.returncode is None, "copyguard serve exited"
                    try:
                        async with session.get(f"{base}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            return base, proc

        yield start


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - polling the server from outside
            await asyncio.sleep(0.1)


async def test_sighup_reloads(start_serve: StartServe, rules_dir: Path) -> None:
    """SIGHUP to a single-process ``copyguard serve`` loads the changed rules; SIGTERM stops it."""
    base, proc = await start_serve(rules_dir, COPYGUARD_WORKERS="1")
    async with aiohttp.ClientSession() as session:
        assert (await ask(session, base, echo64(FERRY)))[1] == "stop"
        add_ferry(rules_dir)
        proc.send_signal(signal.SIGHUP)

        async def blocked() -> bool:
            return (await ask(session, base, echo64(FERRY)))[1] == "content_filter"

        await until(blocked)
        assert await metric(session, base, "copyguard_rules_reload_total", result="ok") == 1
        assert await metric(session, base, "copyguard_rules_works") == 4
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        assert await proc.wait() == 0


async def test_two_workers_share_a_port(start_serve: StartServe, rules_dir: Path) -> None:
    """Two workers answer on one port, /metrics adds both up, and a reload reaches both."""
    base, proc = await start_serve(rules_dir, COPYGUARD_WORKERS="2")
    fresh = aiohttp.TCPConnector(force_close=True)  # a new connection, so either worker
    async with aiohttp.ClientSession(connector=fresh) as session:
        pids: set[str] = set()
        sent = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):  # the second worker may still be starting
                while len(pids) < 2:
                    content, finish, headers = await ask(session, base, "echo: hello there")
                    sent += 1
                    assert finish == "stop"
                    pids.add(headers["X-Copyguard-Worker"])
        assert len(pids) == 2, f"one worker answered all {sent} requests"
        assert str(proc.pid) not in pids
        for _ in range(4):  # whichever worker serves /metrics, it sees every request
            count = await metric(session, base, "copyguard_requests_total", status="200")
            assert count == sent

        add_ferry(rules_dir)
        async with session.post(f"{base}/admin/reload") as r:
            result = await r.json()
        assert result["result"] == "ok" and result["works"] == 4, result

        async def both_reloaded() -> bool:
            ok = await metric(session, base, "copyguard_rules_reload_total", result="ok")
            return ok == 2

        await until(both_reloaded)
        blocked_by: set[str] = set()
        for _ in range(200):
            _, finish, headers = await ask(session, base, echo64(FERRY))
            assert finish == "content_filter"
            blocked_by.add(headers["X-Copyguard-Worker"])
            if blocked_by == pids:
                break
        assert blocked_by == pids
        assert await metric(session, base, "copyguard_rules_works") == 4
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        assert await proc.wait() == 0


def children(pid: int) -> set[int]:
    """The pids of ``pid``'s child processes (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
async def test_workers_stop_when_the_parent_is_killed(
    start_serve: StartServe, rules_dir: Path
) -> None:
    """SIGKILL to the parent leaves no worker serving on alone."""
    _, proc = await start_serve(rules_dir, COPYGUARD_WORKERS="2")
    workers = children(proc.pid)
    assert len(workers) == 2
    proc.kill()
    await proc.wait()

    async def gone() -> bool:
        return not any(running(pid) for pid in workers)

    await until(gone, 10)
