"""Every request gets one `request` log line: pass-through requests and clients that hang up."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from proxy.demo import DemoSettings
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import StartStack
from tests.proxy.routes import ROUTES, Route

PACED = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=20, chunk_chars=2)


def request_lines(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e.get("event") == "request"]


def requests_total(stack: Any, **labels: str) -> float:
    value = stack.state.metrics.registry.get_sample_value("copyguard_requests_total", labels)
    return value or 0.0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models", None),
        ("GET", "/api/tags", None),
        ("POST", "/v1/embeddings", {"model": "m", "input": "hello"}),
        ("GET", "/no/such/path?x=1", None),
    ],
)
async def test_pass_through_requests_are_logged(
    start_stack: StartStack, method: str, path: str, body: Any
) -> None:
    """A forwarded request gets its line: route, status, upstream status, bytes, timings, id."""
    stack = await start_stack()
    with capture_logs() as logs:
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, stack.proxy + path, json=body) as r,
        ):
            status, data, rid = r.status, await r.read(), r.headers["X-Request-Id"]
    (line,) = request_lines(logs)
    assert line["route"] == path.split("?")[0] and line["format"] == "passthrough"
    assert line["method"] == method and line["request_id"] == rid
    assert line["status"] == line["upstream_status"] == status
    assert line["bytes_out"] == len(data) and line["ttfb_ms"] >= 0 and line["duration_ms"] >= 0
    assert "client_disconnected" not in line
    assert requests_total(stack, route="other", format="passthrough", status=str(status)) == 1


async def test_pass_through_to_a_dead_upstream_is_logged_as_502(start_stack: StartStack) -> None:
    """An upstream that cannot be reached: the client gets 502 and the line says why."""
    stack = await start_stack()
    stack.state.settings = stack.state.settings.model_copy(
        update={"upstream": "http://127.0.0.1:9"}
    )
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as s, s.get(stack.proxy + "/v1/models") as r:
            assert r.status == 502
    (line,) = request_lines(logs)
    assert line["status"] == 502 and line["upstream_error"] == "ClientConnectorError"


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
async def test_client_hang_up_is_logged_as_disconnected(
    start_stack: StartStack, route: Route
) -> None:
    """A client leaving mid-stream: client_disconnected, status 499, the bytes that went out."""
    stack = await start_stack(demo=PACED)
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as s:
            resp = await s.post(stack.proxy + route.url(True), json=route.request("hi", True))
            await resp.content.readany()
            resp.close()  # drop the connection mid-stream
        async with asyncio.timeout(5):
            while not request_lines(logs):  # noqa: ASYNC110 - the handler finishes on its own
                await asyncio.sleep(0.01)
    (line,) = request_lines(logs)
    assert line["client_disconnected"] is True and line["status"] == 499
    assert line["upstream_status"] == 200 and line["stream"] is True and line["bytes_out"] > 0
    labels = {"route": route.url(True).partition("?")[0], "format": line["format"], "status": "499"}
    assert requests_total(stack, **labels) == 1
