"""``copyguard serve`` under SIGTERM: stop accepting, finish the stream in flight, exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from proxy.demo import DemoSettings
from tests.conftest import SAMPLE_RULES
from tests.faults.common import DEADLINE
from tests.proxy.harness import StartStack, events

# about 60 paced frames of 20 ms: the stream is still going when SIGTERM comes
STARTUP = 60.0  # a Python process loading the rules on a busy machine
PACED = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=20, chunk_chars=8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigterm_drains_the_stream_in_flight(start_stack: StartStack, tmp_path: Path) -> None:
    """SIGTERM mid-stream: new connections refused, the stream completes, exit status 0."""
    demo = await start_stack(demo=PACED)
    port = _free_port()
    env = os.environ | {
        "COPYGUARD_UPSTREAM": demo.upstream,
        "COPYGUARD_RULES": str(SAMPLE_RULES),
        "COPYGUARD_LISTEN": f"127.0.0.1:{port}",
        "COPYGUARD_CACHE_DIR": str(tmp_path),
        "COPYGUARD_GRACE_PERIOD": "10",
        "COPYGUARD_WORKERS": "1",
    }
    log = (tmp_path / "stderr").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "serve", env=env, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(STARTUP):
            while await _refused(port):  # noqa: ASYNC110 - waiting for another process
                await asyncio.sleep(0.05)
        async with asyncio.timeout(DEADLINE), aiohttp.ClientSession() as s:
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            async with s.post(base + "/v1/chat/completions", json=body) as resp:
                first = await resp.content.readany()
                proc.send_signal(signal.SIGTERM)
                while not await _refused(port):  # noqa: ASYNC110 - the listener closes
                    await asyncio.sleep(0.02)
                rest = await resp.read()
            assert resp.status == 200
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    objs = events(first + rest)
    assert (first + rest).endswith(b"data: [DONE]\n\n")
    assert objs[-1]["choices"][0]["finish_reason"] == "stop"
    assert b"Traceback" not in (tmp_path / "stderr").read_bytes()
