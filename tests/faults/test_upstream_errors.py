"""Upstreams that fail before or instead of a stream: refused, silent, stalled, erroring.

Before the response headers the client gets an HTTP error in the format's own shape (502 or
504); an upstream's own 4xx/5xx JSON error goes back unchanged; after the headers a stall
or a reset ends the stream with the format's error event.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from aiohttp import web

from proxy.demo import DemoSettings
from proxy.demo.answers import load_works, named_answer
from proxy.dialects import default_dialects
from tests.conftest import SAMPLE_RULES
from tests.faults.common import (
    IDS,
    POEM,
    assert_no_protected_run,
    ends_with_error,
    post,
    split_events,
)
from tests.proxy.harness import Replay, StartStack
from tests.proxy.routes import ROUTES, Route

DIALECTS = {d.name: d for d in default_dialects()}
QUICK = {"connect_timeout": 0.2, "first_byte_timeout": 0.2, "read_timeout": 0.2}
ROOMY = {"connect_timeout": 5.0, "first_byte_timeout": 5.0, "read_timeout": 5.0}


def _error_shape(route: Route, status: int, body: bytes) -> None:
    """``body`` is exactly the shape the route's dialect gives its own errors."""
    expected = orjson.loads(DIALECTS[route.format].error_body(status, "x"))
    got = orjson.loads(body)
    assert got.keys() == expected.keys()
    if isinstance(expected.get("error"), dict):
        assert got["error"].keys() == expected["error"].keys()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port with nothing listening (bound, never listened)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full: new connects are never answered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    server.close()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """Accepts connections and reads requests, never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(1 << 16)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_refused_connection_is_502(
    start_stack: StartStack, refused_port: int, route: Route, stream: bool
) -> None:
    """Nothing listening upstream: 502 in the format's error shape."""
    stack = await start_stack(**QUICK)
    target = f"http://127.0.0.1:{refused_port}"
    stack.state.settings = stack.state.settings.model_copy(update={"upstream": target})
    status, _, body = await post(stack.proxy + route.url(stream), route.request("hi", stream))
    assert status == 502
    _error_shape(route, 502, body)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_connect_timeout_is_504(
    start_stack: StartStack, full_backlog: int, route: Route
) -> None:
    """An upstream that never completes the TCP handshake: 504 after connect_timeout."""
    stack = await start_stack(**QUICK)
    target = f"http://127.0.0.1:{full_backlog}"
    stack.state.settings = stack.state.settings.model_copy(update={"upstream": target})
    status, _, body = await post(stack.proxy + route.url(True), route.request("hi", True))
    assert status == 504
    _error_shape(route, 504, body)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_first_byte_timeout_is_504(
    start_stack: StartStack, silent_port: int, route: Route, stream: bool
) -> None:
    """An upstream that accepts but never sends headers: 504 after first_byte_timeout."""
    stack = await start_stack(**QUICK)
    target = f"http://127.0.0.1:{silent_port}"
    stack.state.settings = stack.state.settings.model_copy(update={"upstream": target})
    status, _, body = await post(stack.proxy + route.url(stream), route.request("hi", stream))
    assert status == 504
    _error_shape(route, 504, body)


class Stall(Replay):
    """Sends its chunks, then neither more bytes nor the end until the client leaves."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": self.content_type})
        await resp.prepare(request)
        for chunk in self.chunks:
            await resp.write(chunk)
        await asyncio.Event().wait()
        return resp


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_stall_between_chunks_ends_with_error_event(
    start_stack: StartStack, route: Route
) -> None:
    """A few events then silence: after read_timeout, the format's error event and the end."""
    demo = await start_stack()
    _, _, direct = await post(demo.upstream + route.url(True), route.request("hi", True))
    ctype = "application/x-ndjson" if route.ndjson else "text/event-stream"
    head = split_events(direct, route.ndjson)[:2]
    stack = await start_stack(replay=Stall(head, content_type=ctype), **QUICK)
    status, _, body = await post(stack.proxy + route.url(True), route.request("hi", True))
    assert status == 200 and ends_with_error(body)


@pytest.mark.parametrize("fault", ["reset", "garbage", "stall"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_demo_faults_mid_stream(start_stack: StartStack, route: Route, fault: str) -> None:
    """A reset, garbage or stall in the middle of a protected stream: error event, no leak."""
    demo = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0, chunk_chars=2)
    timeouts = ROOMY | ({"read_timeout": 0.3} if fault == "stall" else {})
    stack = await start_stack(demo=demo, **timeouts)
    headers = {"x-demo-fault": fault, "x-demo-answer": POEM}
    status, _, body = await post(stack.proxy + route.url(True), route.request("hi", True), headers)
    assert status == 200 and ends_with_error(body)
    assert_no_protected_run(body)


@pytest.mark.parametrize(
    ("fault", "status"), [("reset", 502), ("garbage", 502), ("stall", 504), ("cut", 502)]
)
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_demo_faults_whole_body(
    start_stack: StartStack, route: Route, fault: str, status: int
) -> None:
    """A non-streamed answer that is cut, reset, garbled or stalled: 502/504, format's shape."""
    # Only the stall should meet a timeout; the others get room, or a loaded machine
    # turns their 502 into a 504.
    stack = await start_stack(**(QUICK if fault == "stall" else ROOMY))
    headers = {"x-demo-fault": fault, "x-demo-answer": POEM}
    got, _, body = await post(stack.proxy + route.url(False), route.request("hi", False), headers)
    assert got == status
    _error_shape(route, status, body)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("status", [400, 429, 503])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_upstream_error_bodies_pass_unchanged(
    start_stack: StartStack, route: Route, status: int, stream: bool
) -> None:
    """An upstream 4xx/5xx JSON error reaches the client with its status and body unchanged."""
    error = DIALECTS[route.format].error_body(status, f"upstream says {status}")
    replay = Replay([error[:10], error[10:]], status=status, content_type="application/json")
    stack = await start_stack(replay=replay, **ROOMY)  # the body is read: no timing here
    got, headers, body = await post(stack.proxy + route.url(stream), route.request("hi", stream))
    assert (got, body) == (status, error)
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_a_whole_body_that_arrives_in_pieces_is_read_to_its_end(
    start_stack: StartStack, route: Route
) -> None:
    """A non-streamed body written in three pieces with pauses between them reaches the
    client whole and unchanged (it is not cut at the first piece that arrived)."""
    body = DIALECTS[route.format].error_body(400, "a body the model server sends in pieces")
    pieces = [body[:7], body[7:20], body[20:]]
    replay = Replay(pieces, status=400, content_type="application/json", pause=0.2)
    stack = await start_stack(replay=replay, **ROOMY)
    got, _, received = await post(stack.proxy + route.url(False), route.request("hi", False))
    assert (got, received) == (400, body)


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_upstream_error_quoting_protected_text_is_withheld(
    start_stack: StartStack, route: Route, status: int
) -> None:
    """An upstream error whose message quotes a protected work keeps its status, not its text."""
    stanza = named_answer(POEM, load_works(SAMPLE_RULES))
    error = DIALECTS[route.format].error_body(status, f"could not finish: {stanza}")
    replay = Replay([error[:10], error[10:]], status=status, content_type="application/json")
    stack = await start_stack(replay=replay, **ROOMY)
    got, _, body = await post(stack.proxy + route.url(True), route.request("hi", True))
    assert got == status
    _error_shape(route, status, body)
    assert_no_protected_run(body)
    registry = stack.state.metrics.registry
    labels = {"format": DIALECTS[route.format].name}
    assert registry.get_sample_value("copyguard_blocked_streams_total", labels) == 1
