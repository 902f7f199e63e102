"""The failure policy: a matcher that breaks mid-answer, with fail_mode closed and open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proxy.demo import DemoSettings
from proxy.dialects.base import Sent
from proxy.guard import ResponseGuard
from tests.conftest import SAMPLE_RULES
from tests.faults.common import IDS, POEM, assert_no_protected_run, ends_with_error, objects, post
from tests.proxy.harness import StartStack
from tests.proxy.routes import ROUTES, Route

CLEAN = "clean"
BREAK_AT = 5  # the matcher raises on this push of every response


class MatcherBroke(RuntimeError):
    """The injected matcher bug."""


@pytest.fixture
def broken_matcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every ResponseGuard raises on its BREAK_AT-th push, or on a whole answer's text."""
    push = ResponseGuard.push

    def failing(self: ResponseGuard, key: str, text: str) -> Sent:
        count = getattr(self, "_test_pushes", 0) + 1
        self.__dict__["_test_pushes"] = count
        if count == BREAK_AT or len(text) > 100:
            raise MatcherBroke("injected")
        return push(self, key, text)

    monkeypatch.setattr(ResponseGuard, "push", failing)
    yield


def _texts(route: Route, body: bytes, stream: bool) -> dict[int, str]:
    objs: list[dict[str, Any]] = [o for o in objects(body) if isinstance(o, dict)]
    return route.texts(objs, stream)


DEMO = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0, chunk_chars=3)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
@pytest.mark.usefixtures("broken_matcher")
async def test_fail_closed_ends_the_stream_with_an_error(
    start_stack: StartStack, route: Route
) -> None:
    """fail_mode closed: the broken stream ends with the format's error, nothing leaks."""
    stack = await start_stack(demo=DEMO)
    headers = {"x-demo-answer": POEM}
    status, _, body = await post(stack.proxy + route.path, route.request("hi", True), headers)
    assert status == 200 and ends_with_error(body)
    assert_no_protected_run(body)
    registry = stack.state.metrics.registry
    assert registry.get_sample_value("copyguard_matcher_failures_total", {"mode": "closed"}) == 1
    assert registry.get_sample_value("copyguard_fail_open_total") == 0


@pytest.mark.parametrize("answer", [CLEAN, POEM], ids=["clean", "protected"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
@pytest.mark.usefixtures("broken_matcher")
async def test_fail_open_passes_the_rest_unscanned(
    start_stack: StartStack, route: Route, answer: str
) -> None:
    """fail_mode open: the rest of the upstream stream reaches the client, and is counted."""
    stack = await start_stack(demo=DEMO, fail_mode="open")
    headers = {"x-demo-answer": answer}
    _, _, direct = await post(stack.upstream + route.path, route.request("hi", True), headers)
    status, _, body = await post(stack.proxy + route.path, route.request("hi", True), headers)
    assert status == 200 and not ends_with_error(body)
    got, want = _texts(route, body, True)[0], _texts(route, direct, True)[0]
    assert want.endswith(got[-40:]) and len(got) > len(want) // 2
    if answer == CLEAN:
        assert got == want  # nothing was held back when the matcher broke
    assert body.endswith(direct[-40:])
    registry = stack.state.metrics.registry
    assert registry.get_sample_value("copyguard_fail_open_total") == 1
    assert registry.get_sample_value("copyguard_matcher_failures_total", {"mode": "open"}) == 1


@pytest.mark.parametrize(("mode", "status"), [("closed", 500), ("open", 200)])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
@pytest.mark.usefixtures("broken_matcher")
async def test_fail_policy_for_whole_answers(
    start_stack: StartStack, route: Route, mode: str, status: int
) -> None:
    """Non-streamed: closed answers 500 in the format's shape, open returns the body as is."""
    stack = await start_stack(demo=DEMO, fail_mode=mode)
    body = route.request("hi", False)
    _, _, direct = await post(stack.upstream + route.path, body, {"x-demo-answer": CLEAN})
    got, _, out = await post(stack.proxy + route.path, body, {"x-demo-answer": CLEAN})
    assert got == status
    if mode == "open":
        assert _texts(route, out, False) == _texts(route, direct, False)
    else:
        assert ends_with_error(out) and b"Traceback" not in out
