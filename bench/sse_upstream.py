"""The proxy benchmark's model server: chat completions of speech text, burst and pace per request.

It runs inside the load generator's process and event loop (``bench.proxies`` starts it), so
it can see what the clients have received.  The last user message of a request is a JSON
object saying what to send:

    {"text": 3, "chunks": 200, "burst": 8, "delay_ms": 0, "lockstep": false, "flow": 17}
    {"echo64": "<base64 of the text to stream>", "burst": 1, "delay_ms": 20, "flow": 18}

``text`` picks one of the clean passages (by default of the speeches corpus, whitespace
folded, ``chunks`` x ``chunk_chars`` characters), ``"demo": true`` the demo upstream's
canned paragraph (what the benchmark streamed before), ``echo64`` the given text (base64 of
UTF-8: a request that carries a passage in plain text may be allowed to have it echoed).  Each
content event carries ``chunk_chars`` characters (``CHUNK_CHARS`` unless the upstream is
made with another), and ``burst`` events go out in one write (one HTTP
chunk).  How writes follow each other:

- ``delay_ms``: a pause before each write (paced, like a model);
- saturation (no delay): the next write as soon as the event loop comes back to the stream
  (one ``sleep(0)``), so a proxy that falls behind reads several bursts at once, as it
  would behind a fast server;
- ``lockstep``: a flow's next burst only once the client has received the last one
  (``Flows``), so every proxy reads exactly one burst at a time however fast it is: the
  same reads for every target, at the price of the proxy waiting on the client.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from proxy.demo.answers import CLEAN_ANSWER, paced

CHUNK_CHARS = 4
STALL_S = 0.25  # a flow whose client never reports back (a target that merges events) goes on


class Flow:
    """What one request's client has received so far (data events), told to its upstream."""

    __slots__ = ("closed", "received", "_want", "_waiter")

    def __init__(self) -> None:
        self.received = 0
        self.closed = False
        self._want = 0
        self._waiter: asyncio.Future[bool] | None = None

    def got(self, events: int = 1) -> None:
        self.received += events
        if self._waiter is not None and self.received >= self._want:
            self._wake(True)

    def close(self) -> None:
        self.closed = True
        self._wake(True)

    def _wake(self, ok: bool) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(ok)

    async def wait_for(self, events: int) -> bool:
        """Until the client has ``events`` data events (or is gone); False on a stall."""
        if self.received >= events or self.closed:
            return True
        loop = asyncio.get_running_loop()
        self._want, self._waiter = events, loop.create_future()
        timer = loop.call_later(STALL_S, self._wake, False)
        try:
            return await self._waiter
        finally:
            timer.cancel()


@dataclass
class Flows:
    """Open flows by number, shared by the load generator and the upstream."""

    open: dict[int, Flow] = field(default_factory=dict)
    stalls: int = 0
    started: int = 0

    def start(self) -> tuple[int, Flow]:
        """A new flow and its number (numbers are never reused)."""
        self.started += 1
        flow = self.open[self.started] = Flow()
        return self.started, flow

    def end(self, number: int) -> None:
        flow = self.open.pop(number, None)
        if flow is not None:
            flow.close()


@dataclass
class Counters:
    requests: int = 0
    content_events: int = 0
    writes: int = 0


def clean_passages(folder: Path, count: int, chars: int) -> list[str]:
    """``count`` stretches of ``chars`` characters of the texts in ``folder``, whitespace folded."""
    speeches = [
        " ".join(p.read_text(encoding="utf-8").split()) for p in sorted(folder.rglob("*.txt"))
    ]
    out = []
    for i in range(count):
        speech = speeches[i % len(speeches)]
        start = (i // len(speeches) * 4099) % max(1, len(speech) - chars)
        out.append(speech[start : start + chars].ljust(chars))
    return out


def _event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chat_events(text: str, ident: str, size: int = CHUNK_CHARS) -> tuple[bytes, list[bytes], bytes]:
    """(role event, one event per ``size`` characters of ``text``, finish event + ``[DONE]``)."""
    head = {
        "id": f"chatcmpl-{ident}",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "copyguard-demo",
        "service_tier": "default",
        "system_fingerprint": "fp_copyguard_bench",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**head, "choices": [choice]})

    role = chunk({"role": "assistant", "content": "", "refusal": None})
    content = [chunk({"content": text[i : i + size]}) for i in range(0, len(text), size)]
    return role, content, chunk({}, "stop") + b"data: [DONE]\n\n"


def chat_body(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "copyguard-demo",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text) // 4, "total_tokens": 0},
        }
    )


class BenchUpstream:
    """The aiohttp app; ``passages`` are the texts ``{"text": i}`` picks from."""

    def __init__(self, passages: list[str], flows: Flows, chunk_chars: int = CHUNK_CHARS) -> None:
        self.passages = passages
        self.flows = flows
        self.chunk_chars = chunk_chars
        self.counters = Counters()
        self._cache: dict[tuple[int, int], tuple[bytes, list[bytes], bytes]] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    def _events(self, ask: dict[str, Any]) -> tuple[bytes, list[bytes], bytes]:
        if "echo64" in ask:  # base64, so the request does not carry the text it asks for
            text = base64.b64decode(str(ask["echo64"])).decode()
            return chat_events(text, "echo", self.chunk_chars)
        chunks = int(ask.get("chunks", 200))
        which = -1 if ask.get("demo") else int(ask.get("text", 0)) % len(self.passages)
        key = (which, chunks)
        if key not in self._cache:
            if which < 0:  # what the old benchmark streamed: the demo's paragraph, repeated
                text = paced(CLEAN_ANSWER, self.chunk_chars, chunks)
            else:
                text = self.passages[which][: chunks * self.chunk_chars]
            self._cache[key] = chat_events(text, f"bench{which:04d}", self.chunk_chars)
        return self._cache[key]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.counters.requests += 1
        body = orjson.loads(await request.read())
        ask = orjson.loads(body["messages"][-1]["content"])
        role, content, end = self._events(ask)
        if not body.get("stream"):
            text = "".join(orjson.loads(e[6:])["choices"][0]["delta"]["content"] for e in content)
            return web.Response(body=chat_body(text), content_type="application/json")
        burst = max(1, int(ask.get("burst", 1)))
        delay = float(ask.get("delay_ms", 0)) / 1000
        flow = self.flows.open.get(int(ask.get("flow", -1))) if ask.get("lockstep") else None
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            await resp.write(role)
            sent = 1
            for at in range(0, len(content), burst):
                if delay:
                    await asyncio.sleep(delay)
                elif flow is None:
                    await asyncio.sleep(0)
                elif not await flow.wait_for(sent):
                    self.flows.stalls += 1
                group = content[at : at + burst]
                await resp.write(b"".join(group))
                sent += len(group)
                self.counters.content_events += len(group)
                self.counters.writes += 1
            if delay:
                await asyncio.sleep(delay)
            await resp.write(end)
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp
