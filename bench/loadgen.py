"""Load generator: C concurrent chat-completion requests kept open for T seconds.

Each of C workers sends one request after another until T seconds have passed, then
finishes the one it has open.  Per request it records the time to response headers, to
the first content chunk, every gap between content chunks, the total time, the number of
content chunks and characters, and how the answer ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.sse_upstream import Flow, Flows

# LiteLLM refuses to start without a master key; the other targets ignore the header.
MASTER_KEY = "sk-copyguard-bench-3f9a7c1e5b2d4a6f8e0c71d2"


@dataclass(slots=True)
class Record:
    """One request as the client saw it (times in seconds from sending it)."""

    headers: float = 0.0
    first: float | None = None  # first content chunk
    total: float = 0.0
    gaps: list[float] = field(default_factory=list)
    chunks: int = 0  # SSE events carrying content (or 1 for a whole body)
    chars: int = 0  # characters of content received
    writes: int = 0  # HTTP chunks received: the sender's writes (a proxy's: one per read)
    finish: str | None = None
    done: bool = False  # the stream ended as its format says ([DONE], or a whole body)
    error: str | None = None


def _content(event: bytes, rec: Record) -> str:
    """The content text of one ``data:`` event; note finish reasons and ``[DONE]``."""
    if not event.startswith(b"data:"):
        return ""
    data = event[5:].strip()
    if data == b"[DONE]":
        rec.done = True
        return ""
    obj = orjson.loads(data)
    if "error" in obj:
        rec.error = "stream error event"
    text = ""
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        piece = delta.get("content")
        if isinstance(piece, str):
            text += piece
        if choice.get("finish_reason"):
            rec.finish = choice["finish_reason"]
    return text


async def one_request(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    stream: bool,
    flow: Flow | None = None,
) -> Record:
    rec = Record()
    t0 = time.perf_counter()
    last = 0.0
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            rec.headers = time.perf_counter() - t0
            if resp.status != 200:
                await resp.read()
                rec.error = f"http {resp.status}"
                return rec
            if not stream:
                obj = orjson.loads(await resp.read())
                now = time.perf_counter() - t0
                choice = obj["choices"][0]
                rec.chars = len(choice["message"].get("content") or "")
                rec.finish, rec.first, rec.chunks, rec.done = choice["finish_reason"], now, 1, True
                return rec
            pending = b""
            async for data, whole in resp.content.iter_chunks():
                # an HTTP chunk is one write of the sender: for a proxy, one upstream read
                rec.writes += whole
                now = time.perf_counter() - t0
                pending += data
                if b"\n\n" not in pending:
                    continue
                *events, pending = pending.replace(b"\r\n", b"\n").split(b"\n\n")
                if flow is not None:  # the upstream sends a flow's next burst after this
                    flow.got(sum(1 for e in events if e.startswith(b"data:")))
                for event in events:
                    text = _content(event, rec)
                    if not text:
                        continue
                    if rec.first is None:
                        rec.first = now
                    else:
                        rec.gaps.append(now - last)
                    last = now
                    rec.chunks += 1
                    rec.chars += len(text)
            if not rec.done:
                rec.error = "stream ended without [DONE]"
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as e:
        rec.error = type(e).__name__
    finally:
        rec.total = time.perf_counter() - t0
    return rec


@dataclass
class LoadResult:
    records: list[Record]
    started: float
    ended: float  # when the last request finished

    @property
    def seconds(self) -> float:
        return self.ended - self.started


async def run_load(
    url: str,
    concurrency: int,
    seconds: float,
    make_body: Callable[[int], bytes],
    stream: bool = True,
    headers: dict[str, str] | None = None,
    request_timeout: float = 120.0,
    flows: Flows | None = None,
) -> LoadResult:
    """Keep ``concurrency`` requests open for ``seconds``; ``make_body(i)`` gives request i.

    With ``flows`` (an in-process ``bench.sse_upstream``), request i is flow i of it: ``i``
    counts on across runs, and the client tells the upstream what it has received.
    """
    hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}
    hdrs.update(headers or {})
    records: list[Record] = []
    counter = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        stop_at = started + seconds

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < stop_at:
                if flows is None:
                    counter += 1
                    records.append(
                        await one_request(session, url, make_body(counter), hdrs, stream)
                    )
                    continue
                number, flow = flows.start()
                try:
                    body = make_body(number)
                    records.append(await one_request(session, url, body, hdrs, stream, flow))
                finally:
                    flows.end(number)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        ended = time.perf_counter()
    return LoadResult(records, started, ended)


def chat_body(prompt: str, stream: bool, model: str = "copyguard-demo") -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    return orjson.dumps(body)
