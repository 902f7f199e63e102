"""Each guarded route, streamed and not, over real sockets: demo upstream -> proxy -> client."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.demo import DEMO_STATS, DemoSettings
from proxy.demo.answers import echo64, load_works
from proxy.matching.normalize import words
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import Replay, StartStack, events, index_for, strings_by_path
from tests.proxy.routes import ROUTES, Route

WORKS = load_works(SAMPLE_RULES)
POEM = "poems/lighthouse-keeper"
SONG = "songs/copper-river-blues"
CLEAN = "echo: Zebras juggle amber pebbles beside quiet violet lanterns, humming softly 42 times."
IDS = [r.name for r in ROUTES]


async def post(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


def assert_no_protected_run(body: bytes) -> None:
    """No min_words run of a sample work in any field, nor in any field's concatenation."""
    index = index_for(SAMPLE_RULES)
    objs = events(body)
    for path, text in strings_by_path(objs).items():
        assert scan_text(index, text) == [], path
    for obj in objs:
        for text in strings_by_path([obj]).values():
            assert scan_text(index, text) == []


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_clean_answer_is_byte_identical(
    start_stack: StartStack, route: Route, stream: bool
) -> None:
    """A clean answer with nothing held reaches the client exactly as the upstream sent it."""
    demo = await start_stack()
    status, _, direct = await post(demo.upstream + route.url(stream), route.request(CLEAN, stream))
    assert status == 200
    chunks = [direct[i : i + 97] for i in range(0, len(direct), 97)]
    ctype = (
        ("application/x-ndjson" if route.ndjson else "text/event-stream")
        if stream
        else "application/json"
    )
    replay = await start_stack(replay=Replay(chunks, content_type=ctype))
    status, headers, proxied = await post(
        replay.proxy + route.url(stream), route.request(CLEAN, stream)
    )
    assert status == 200 and proxied == direct
    assert "X-Copyguard-Findings" not in headers


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_protected_answer_is_blocked(
    start_stack: StartStack, route: Route, stream: bool
) -> None:
    """Reproducing a sample work ends with the format's filter signal and leaks nothing."""
    stack = await start_stack()
    status, headers, body = await post(
        stack.proxy + route.url(stream), route.request("recite it", stream), {"x-demo-answer": POEM}
    )
    texts, filtered = route.read(body, stream)
    assert status == 200 and filtered
    assert texts[0].startswith("Certainly") or texts[0] == "" or len(words(texts[0])) < 12
    assert_no_protected_run(body)
    assert b'"copyguard"' in body
    if not stream:
        assert headers["X-Copyguard-Findings"] == "1"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_redaction_leaves_the_rest_intact(
    start_stack: StartStack, route: Route, stream: bool
) -> None:
    """Redacted spans are replaced; the text around them arrives unchanged."""
    stack = await start_stack()
    lead, song = "Sure, here it is: ", WORKS[SONG].text
    _, _, body = await post(
        stack.proxy + route.url(stream),
        route.request(echo64(lead + song + " Hope you like it."), stream),
    )
    texts, filtered = route.read(body, stream)
    assert not filtered
    tail = song[words(song)[-1][2] :]
    replaced = "[excerpt of “Copper River Blues” removed]" + tail + " Hope you like it."
    assert texts[0].startswith(lead) and texts[0].endswith(replaced)
    # Streamed, the song's first words may be out before its first window completes
    # (at most stride + 2 words: see MatchIndex.loose); everything after them is replaced.
    out_first = texts[0][len(lead) : -len(replaced)]
    assert song.startswith(out_first) and len(words(out_first)) <= 6
    assert_no_protected_run(body)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.name in ("openai-chat", "openai-completions")], ids=str
)
async def test_choices_are_guarded_independently(
    start_stack: StartStack, route: Route, stream: bool
) -> None:
    """With n = 2, a protected choice is cut while the clean one arrives whole."""
    stack = await start_stack()
    body = route.request("anything", stream) | {"n": 2}
    _, _, out = await post(
        stack.proxy + route.url(stream), body, {"x-demo-answers": f"{POEM},clean"}
    )
    objs = events(out)
    texts = route.texts(objs, stream)
    reasons = {
        c["index"]: c.get("finish_reason")
        for o in objs
        for c in o.get("choices", [])
        if c.get("finish_reason")
    }
    assert reasons == {0: "content_filter", 1: "stop"}
    direct = await post(stack.upstream + route.url(stream), body, {"x-demo-answers": "clean,clean"})
    assert texts[1] == route.texts(events(direct[2]), stream)[0]
    assert_no_protected_run(out)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_gemini_candidates_are_guarded_one_by_one(
    start_stack: StartStack, stream: bool
) -> None:
    """candidateCount 2: a whole answer keeps the clean one whole; a block ends a whole stream."""
    route = next(r for r in ROUTES if r.name == "gemini")
    stack = await start_stack()
    body = route.request("anything", stream) | {"generationConfig": {"candidateCount": 2}}
    url = route.url(stream)
    _, _, out = await post(stack.proxy + url, body, {"x-demo-answers": f"{POEM},clean"})
    _, _, direct = await post(stack.upstream + url, body, {"x-demo-answers": "clean,clean"})
    objs, clean = events(out), route.texts(events(direct), stream)[1]
    reasons = {
        c["index"]: c["finishReason"] for o in objs for c in o["candidates"] if "finishReason" in c
    }
    texts = route.texts(objs, stream)
    assert reasons == {0: "RECITATION", 1: "RECITATION" if stream else "STOP"}
    assert clean.startswith(texts[1]) if stream else texts[1] == clean
    assert "copyguard" in objs[-1]
    assert_no_protected_run(out)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.stream_path], ids=lambda r: r.name)
async def test_gemini_streams_pass_as_they_come(start_stack: StartStack, route: Route) -> None:
    """SSE and JSON-array streams alike: text reaches the client while upstream still sends."""
    demo = DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=20, max_chunks=500)
    stack = await start_stack(demo=demo)
    body = route.request(CLEAN, True)
    async with aiohttp.ClientSession() as s, s.post(stack.proxy + route.url(True), json=body) as r:
        first = b""
        while b"Zebr" not in first:  # the first piece of text (chunks are 4 characters)
            first += await asyncio.wait_for(r.content.readany(), 5) or b"upstream ended: Zebr"
        assert stack.upstream_app[DEMO_STATS].active_streams == 1 and b"ended" not in first


VERTEX = [
    "/v1/projects/p-1/locations/us-central1/publishers/google/models/gemini-2.5-flash",
    "/v1beta1/publishers/google/models/gemini-2.5-flash",
    "/v1/projects/p-1/locations/europe-west4/endpoints/1234",
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("model", VERTEX, ids=["project", "express", "endpoint"])
async def test_vertex_ai_paths_are_guarded(
    start_stack: StartStack, model: str, stream: bool
) -> None:
    """Vertex AI serves the Gemini format on its own paths: guarded as well, not passed through."""
    route = next(r for r in ROUTES if r.name == "gemini")
    demo = await start_stack()
    headers = {"x-demo-answer": POEM}
    _, _, direct = await post(
        demo.upstream + route.url(stream), route.request("x", stream), headers
    )
    replay = Replay([direct], content_type="text/event-stream" if stream else "application/json")
    stack = await start_stack(replay=replay)
    path = model + (":streamGenerateContent?alt=sse" if stream else ":generateContent")
    status, _, body = await post(stack.proxy + path, route.request("x", stream))
    assert status == 200 and route.read(body, stream)[1]
    assert replay.seen[0]["path"] == path
    assert_no_protected_run(body)


async def test_tool_calls_pass_through(start_stack: StartStack) -> None:
    """Tool-call events reach the client with their arguments intact."""
    stack = await start_stack()
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    body = {
        "model": "m",
        "stream": True,
        "tools": [tool],
        "messages": [{"role": "user", "content": "what is the weather in Paris?"}],
    }
    _, _, out = await post(stack.proxy + "/v1/chat/completions", body)
    calls = [
        tc for o in events(out) for c in o["choices"] for tc in (c["delta"].get("tool_calls") or [])
    ]
    args = "".join(tc["function"].get("arguments", "") for tc in calls)
    assert calls[0]["function"]["name"] == "get_weather" and "Paris" in args
    assert events(out)[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_other_paths_are_forwarded_untouched(start_stack: StartStack) -> None:
    """Unguarded paths (models, embeddings) go through both ways unchanged."""
    stack = await start_stack()
    async with aiohttp.ClientSession() as s:
        async with (
            s.get(stack.proxy + "/v1/models") as a,
            s.get(stack.upstream + "/v1/models") as b,
        ):
            assert a.status == b.status == 200 and await a.read() == await b.read()
        payload = {"model": "m", "input": "hello"}
        async with s.post(stack.proxy + "/v1/embeddings", json=payload) as a:
            assert a.status == 200 and len((await a.json())["data"][0]["embedding"]) > 0


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.name in ("openai-chat", "openai-responses")], ids=str
)
async def test_stored_objects_fetched_back_are_guarded(
    start_stack: StartStack, route: Route
) -> None:
    """GET /v1/responses/{id} and /v1/chat/completions/{id} return no protected run either."""
    demo = await start_stack()
    _, _, stored = await post(
        demo.upstream + route.url(False), route.request("x", False), {"x-demo-answer": POEM}
    )
    replay = Replay([stored], content_type="application/json")
    stack = await start_stack(replay=replay)
    async with aiohttp.ClientSession() as s, s.get(stack.proxy + route.path + "/obj_123") as resp:
        body = await resp.read()
    assert resp.status == 200 and route.read(body, False)[1]
    assert_no_protected_run(body)
    assert replay.seen[0]["path"] == route.path + "/obj_123"


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_blocking_closes_the_upstream(start_stack: StartStack, route: Route) -> None:
    """After a block the upstream connection is closed, so the model stops generating."""
    from proxy.demo import DEMO_STATS, DemoSettings

    stack = await start_stack(demo=DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=10))
    _, _, body = await post(
        stack.proxy + route.url(True), route.request("x", True), {"x-demo-answer": POEM}
    )
    assert route.read(body, True)[1]
    stats = stack.upstream_app[DEMO_STATS]
    async with asyncio.timeout(1.0):
        while stats.disconnected_streams < 1:  # noqa: ASYNC110 - polls another app's counter
            await asyncio.sleep(0.02)
    assert stats.completed_streams == 0


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_log_only_policy_is_invisible(
    start_stack: StartStack, route: Route, tmp_path: Path
) -> None:
    """Shadow mode: with only `log` actions the stream is untouched, findings go to metrics."""
    for name in ("poems", "prose", "songs"):
        shutil.copytree(SAMPLE_RULES / name, tmp_path / name)
    (tmp_path / "policy.toml").write_text('action = "log"\n')
    demo = await start_stack()
    body = route.request("x", True)
    _, _, direct = await post(demo.upstream + route.url(True), body, {"x-demo-answer": POEM})
    ctype = "application/x-ndjson" if route.ndjson else "text/event-stream"
    chunks = [direct[i : i + 61] for i in range(0, len(direct), 61)]
    stack = await start_stack(rules=tmp_path, replay=Replay(chunks, content_type=ctype))
    _, _, proxied = await post(stack.proxy + route.url(True), body)
    assert proxied == direct
    registry = stack.state.metrics.registry
    labels = {"collection": "poems", "work": POEM, "action": "log"}
    assert registry.get_sample_value("copyguard_findings_total", labels) == 1
