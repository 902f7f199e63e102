"""Upstream bytes split anywhere (inside UTF-8, inside "data:", between CR and LF)."""

from __future__ import annotations

from itertools import pairwise

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.demo.answers import echo64
from tests.proxy.harness import Replay, stack_factory
from tests.proxy.routes import ROUTES, Route

TEXT = echo64(
    "Ünïcödé façade — 日本語のテキスト, emoji 👩‍💻 and I count the ships that do not"
    " come, I count the gulls that never land, I keep the lamp for everyone."
)


async def fetch(url: str, route: Route) -> bytes:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + route.url(True), json=route.request(TEXT, True)) as r,
    ):
        return await r.read()


def with_crlf(body: bytes, route: Route) -> bytes:
    return body if route.ndjson else body.replace(b"\n", b"\r\n")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=40))
async def test_any_split_of_upstream_bytes_gives_the_same_client_text(
    route: Route, cuts: list[float]
) -> None:
    """The client sees the same text, finish signal included, however the upstream bytes are cut."""
    async for start in stack_factory():
        demo = await start()
        body = with_crlf(await fetch(demo.upstream, route), route)
        ctype = "application/x-ndjson" if route.ndjson else "text/event-stream"
        whole = await start(replay=Replay([body], content_type=ctype))
        points = sorted({0, len(body), *(int(c * len(body)) for c in cuts)})
        pieces = [body[a:b] for a, b in pairwise(points)]
        split = await start(replay=Replay(pieces, content_type=ctype))
        expected = route.read(await fetch(whole.proxy, route), True)
        assert route.read(await fetch(split.proxy, route), True) == expected
        assert expected[1]  # the protected lines inside were blocked


def test_crlf_variant_really_uses_crlf() -> None:
    """The SSE bodies replayed above do contain CR LF pairs, so cuts can fall between them."""
    assert with_crlf(b"data: x\n\n", ROUTES[0]) == b"data: x\r\n\r\n"
