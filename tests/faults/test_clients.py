"""Hostile and careless clients: disconnects, slow readers, oversized or malformed requests,
open-proxy tricks, admin endpoints on the wrong listener, secrets in logs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import structlog
from aiohttp import web

from proxy.app import make_admin_app
from proxy.demo import DemoSettings
from tests.conftest import SAMPLE_RULES
from tests.faults.common import DEADLINE, IDS, post
from tests.proxy.harness import Replay, StartStack
from tests.proxy.routes import ROUTES, Route

PACED = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=20, chunk_chars=2)


async def _poll(check: Any, within: float) -> None:
    """Wait until ``check()`` is true; fail if it is not within ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling a remote counter
            await asyncio.sleep(0.01)


async def _stats(upstream: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as s, s.get(upstream + "/demo/stats") as r:
        stats: dict[str, int] = await r.json()
        return stats


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_client_disconnect_cancels_the_upstream(
    start_stack: StartStack, route: Route
) -> None:
    """A client leaving mid-stream: the upstream request is closed within 1 s, nothing leaks."""
    stack = await start_stack(demo=PACED)
    async with aiohttp.ClientSession() as s:
        resp = await s.post(stack.proxy + route.url(True), json=route.request("hi", True))
        await resp.content.readany()
        resp.close()  # drop the connection mid-stream
    await _poll(lambda: _disconnected(stack.upstream), within=1.0)
    metrics = stack.state.metrics.registry
    gauge = "copyguard_active_streams"

    async def settled() -> bool:
        connector = stack.state.session.connector if stack.state.session else None
        open_conns = connector is not None and (connector._acquired or connector._conns)
        return metrics.get_sample_value(gauge) == 0 and not open_conns

    await _poll(settled, within=1.0)


async def _disconnected(upstream: str) -> bool:
    stats = await _stats(upstream)
    return stats["disconnected_streams"] == 1 and stats["active_streams"] == 0


class Endless(Replay):
    """Streams the same clean chat event forever, counting the bytes it got written."""

    written: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        event = self.chunks[0]
        while True:
            await resp.write(event)
            self.written += len(event)


async def test_slow_reader_backpressure_reaches_the_upstream(start_stack: StartStack) -> None:
    """A client that stops reading stalls the upstream's writes: bounded bytes in between."""
    delta = {"choices": [{"index": 0, "delta": {"content": "amber pebbles hum softly. " * 40}}]}
    upstream = Endless([b"data: " + orjson.dumps(delta) + b"\n\n"])
    stack = await start_stack(replay=upstream)
    host, port = stack.proxy.removeprefix("http://").split(":")
    body = orjson.dumps(ROUTES[0].request("hi", True))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n" + body)
    await reader.readuntil(b"\r\n\r\n")  # headers read, then the client reads no more
    last = -1

    async def stalled() -> bool:
        nonlocal last
        await asyncio.sleep(0.2)
        was, last = last, upstream.written
        return was == last

    await _poll(stalled, within=DEADLINE)
    assert upstream.written < 16 << 20  # what sits in buffers between upstream and client
    writer.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_oversized_request_is_413(
    start_stack: StartStack, route: Route, chunked: bool
) -> None:
    """A request body over max_request_bytes: 413 in the format's error shape, not forwarded."""
    stack = await start_stack(max_request_bytes=1024)
    raw = orjson.dumps(route.request("x" * 4096, True))

    async def parts() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 512):
            yield raw[i : i + 512]

    async with asyncio.timeout(DEADLINE), aiohttp.ClientSession() as s:
        data: Any = parts() if chunked else raw
        async with s.post(stack.proxy + route.url(True), data=data) as resp:
            assert resp.status == 413
            assert "413" in str(await resp.json()) or "over" in str(await resp.json())
    assert (await _stats(stack.upstream))["requests"] == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b"", "stream-yes", "stream-1"],
    ids=["garbled", "array", "string", "empty", "stream-yes", "stream-1"],
)
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_malformed_request_is_400(start_stack: StartStack, route: Route, body: Any) -> None:
    """Bad JSON, a non-object, or a non-boolean ``stream``: 400 in the format's shape."""
    stack = await start_stack()
    if isinstance(body, str):
        if route.stream_path:
            pytest.skip("the path, not a body field, asks for a stream")
        value: Any = "yes" if body == "stream-yes" else 1
        body = orjson.dumps(route.request("hi", True) | {"stream": value})
    status, _, out = await post(stack.proxy + route.url(True), None, raw=body)
    assert status == 400
    obj = orjson.loads(out)
    assert "error" in obj or obj.get("type") == "error"
    assert (await _stats(stack.upstream))["requests"] == 0


@pytest.mark.parametrize(
    "target",
    ["http://{evil}/v1/models", "http://{evil}/v1/chat/completions", "/v1/models"],
    ids=["absolute-get", "absolute-guarded", "origin-form"],
)
async def test_not_an_open_proxy(start_stack: StartStack, target: str) -> None:
    """Absolute targets, Host and X-Forwarded-* headers never reach any but the upstream."""
    good = Replay([b'{"object":"list","data":[]}'], content_type="application/json")
    evil = Replay([b'{"evil":true}'], content_type="application/json")
    stack = await start_stack(replay=good)
    evil_host = (await start_stack(replay=evil)).upstream.removeprefix("http://")
    path = target.format(evil=evil_host)
    method = "POST" if "chat" in path else "GET"
    body = orjson.dumps(ROUTES[0].request("hi", False)) if method == "POST" else b""
    steer = (
        f"Host: {evil_host}\r\nX-Forwarded-Host: {evil_host}\r\nX-Forwarded-Proto: http\r\n"
        f"X-Forwarded-For: {evil_host}\r\nForwarded: host={evil_host};proto=http\r\n"
        f"X-Real-IP: 10.0.0.1\r\n"
    )
    request = f"{method} {path} HTTP/1.1\r\n{steer}Content-Length: {len(body)}\r\n"
    request += "Connection: close\r\n\r\n"
    host, port = stack.proxy.removeprefix("http://").split(":")
    async with asyncio.timeout(DEADLINE):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request.encode() + body)
        answer = await reader.read()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 ") and b"evil" not in answer.split(b"\r\n\r\n", 1)[1]
    assert evil.seen == []
    assert len(good.seen) == 1 and good.seen[0]["path"].startswith("/v1/")
    forwarded = {k.lower(): v for k, v in good.seen[0]["headers"].items()}
    assert evil_host not in forwarded.get("host", "")
    assert "x-forwarded-host" not in forwarded and "forwarded" not in forwarded


async def _get(url: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        await r.read()
        return r.status


@pytest.mark.parametrize("admin", [False, True], ids=["no-admin-listen", "admin-listen"])
async def test_metrics_only_on_the_admin_listener(start_stack: StartStack, admin: bool) -> None:
    """With admin_listen set, /metrics is on the admin listener only; else on the main one."""
    settings: dict[str, Any] = {"admin_listen": "127.0.0.1:0"} if admin else {}
    stack = await start_stack(**settings)
    assert await _get(stack.proxy + "/metrics") == (404 if admin else 200)
    if admin:
        runner = web.AppRunner(make_admin_app(stack.state))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            assert await _get(f"http://{host}:{port}/metrics") == 200
        finally:
            await runner.cleanup()


SECRETS = ("Bearer sk-live-SECRET-4242", "xk-SECRET-api-key-77")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_logs_hold_no_secrets_prompts_or_outputs(
    start_stack: StartStack, route: Route, stream: bool
) -> None:
    """At the default level, no log event carries credentials, the prompt or the output."""
    stack = await start_stack()
    prompt = "echo: Quixotic marmalade zeppelins orbit the velvet lighthouse."
    headers = {"Authorization": SECRETS[0], "x-api-key": SECRETS[1], "x-demo-fault": "garbage"}
    with structlog.testing.capture_logs() as logs:
        await post(stack.proxy + route.url(stream), route.request(prompt, stream))
        await post(stack.proxy + route.url(stream), route.request(prompt, stream), headers)
        await post(stack.proxy + "/v1/models", None, headers)
    shown = [e for e in logs if e.get("log_level") != "debug"]
    assert any(e.get("event") == "request" for e in shown)
    text = repr(shown)
    for secret in (*SECRETS, "sk-live", "Quixotic", "marmalade", "zeppelins", "not json"):
        assert secret not in text
