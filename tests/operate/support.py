"""Helpers shared by the operate tests: a work to add, chat requests, metrics samples."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.proxy.harness import events

FERRY = (
    "The ferryman counted every lantern on the northern shore while the grey heron slept "
    "beneath the broken pier and the tide forgot its way home before the morning bells"
)


def add_ferry(rules: Path) -> None:
    """Add a protected work that the sample rules lack."""
    (rules / "poems" / "the-ferryman.txt").write_text(f"---\ntitle: The Ferryman\n---\n{FERRY}\n")


def chat(text: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}


async def ask(
    session: aiohttp.ClientSession, base: str, text: str, headers: dict[str, str] | None = None
) -> tuple[str, str, dict[str, str]]:
    """A non-streamed chat answer: its content, finish_reason and response headers."""
    async with session.post(f"{base}/v1/chat/completions", json=chat(text), headers=headers) as r:
        assert r.status == 200, await r.text()
        body = events(await r.read())[0]
        choice = body["choices"][0]
        return choice["message"]["content"] or "", choice["finish_reason"], dict(r.headers)


async def metric(session: aiohttp.ClientSession, base: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
    async with session.get(f"{base}/metrics") as r:
        text = await r.text()
    total = 0.0
    for m in re.finditer(rf"^{name}(?:\{{(.*?)\}})? (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def wait_healthy(proc: subprocess.Popen[Any], port: int, why: Callable[[], str]) -> None:
    """Wait until ``proc`` answers /healthz on 127.0.0.1:``port`` (30 s); else fail with why()."""
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, why()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                assert r.status == 200
                return
        except OSError:
            assert time.monotonic() < deadline, why()
            time.sleep(0.1)
