"""Real sockets on loopback: an upstream (the demo, or a replay of given bytes) behind the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from proxy.app import make_app, make_state
from proxy.demo import DemoSettings, make_demo_app
from proxy.matching.engines import load_matcher
from proxy.matching.seam import Matcher
from proxy.rules import load_rules
from proxy.settings import Settings
from proxy.state import ProxyState
from tests.conftest import SAMPLE_RULES


@cache
def index_for(rules: Path) -> Matcher:
    return load_matcher(load_rules(rules), None)[0]


@dataclass
class Replay:
    """An upstream that answers every request with the same status, headers and chunks."""

    chunks: Sequence[bytes] = ()
    status: int = 200
    content_type: str = "text/event-stream"
    seen: list[dict[str, Any]] = field(default_factory=list)
    pause: float = 0.0  # seconds between chunks (a body that arrives in pieces)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append({"path": request.path_qs, "headers": dict(request.headers), "body": body})
        resp = web.StreamResponse(status=self.status, headers={"Content-Type": self.content_type})
        await resp.prepare(request)
        for i, chunk in enumerate(self.chunks):
            if i and self.pause:
                await asyncio.sleep(self.pause)
            await resp.write(chunk)
        await resp.write_eof()
        return resp


@dataclass
class Stack:
    upstream: str
    proxy: str
    state: ProxyState
    upstream_app: web.Application


StartStack = Callable[..., Awaitable[Stack]]


async def _serve(stack: AsyncExitStack, app: web.Application) -> str:
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


async def stack_factory(
    matcher_for: Callable[[Path], Matcher] = index_for,
) -> AsyncIterator[StartStack]:
    """Yield a function that starts upstream + proxy pairs, all stopped at the end.

    ``matcher_for``: the matcher of a rules folder (the real engine unless a test says).
    """
    async with AsyncExitStack() as stack:

        async def start(
            rules: Path = SAMPLE_RULES,
            demo: DemoSettings | None = None,
            replay: Replay | None = None,
            **settings: Any,
        ) -> Stack:
            if replay is not None:
                upstream_app = web.Application()
                upstream_app.router.add_route("*", "/{tail:.*}", replay.handle)
            else:
                upstream_app = make_demo_app(
                    demo or DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0)
                )
            upstream = await _serve(stack, upstream_app)
            config = Settings(upstream=upstream, rules=rules, cache_dir=None, **settings)
            state = make_state(config, matcher_for(rules))
            proxy = await _serve(stack, make_app(state))
            return Stack(upstream, proxy, state, upstream_app)

        yield start


def events(body: bytes) -> list[dict[str, Any]]:
    """Every JSON object in an SSE, NDJSON or JSON-array body, in order ([DONE] and comments
    skipped)."""
    out: list[dict[str, Any]] = []
    text = body.decode("utf-8").replace("\r\n", "\n")
    if text.lstrip().startswith("["):
        return list(orjson.loads(text))
    if text.lstrip().startswith("{") and "\ndata:" not in text and not text.startswith("data:"):
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) == 1:
            return [orjson.loads(lines[0])]
        return [orjson.loads(line) for line in lines]
    for block in text.split("\n\n"):
        data = "\n".join(
            line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")
        )
        if data and data != "[DONE]":
            out.append(orjson.loads(data))
    return out


def strings_by_path(objects: Sequence[Any]) -> dict[str, str]:
    """Every string value, concatenated per JSON path across all objects (rebuilds streams)."""
    return {p: "".join(v) for p, v in string_lists_by_path(objects).items()}


def string_lists_by_path(objects: Iterable[Any]) -> dict[str, list[str]]:
    """Every string value per JSON path, in order across all objects (a path starts with
    the object's ``type`` when it has one)."""
    paths: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str):
            paths.setdefault(path, []).append(node)

    for obj in objects:
        walk(obj, obj.get("type", "") if isinstance(obj, dict) else "")
    return paths
