"""The demo upstream, driven over loopback by the official OpenAI, Anthropic, Ollama and Google
Gen AI SDKs."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import aiohttp
import anthropic
import google.genai
import ollama
import openai
import orjson
import pytest
from aiohttp import web
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from proxy.demo import DEMO_STATS, DemoSettings, default_rules_dir, make_demo_app
from proxy.demo.answers import (
    CLEAN_ANSWER,
    choose_answer,
    echo64,
    load_works,
    next_words,
    parse_work,
)

# google-genai's async client subclasses aiohttp's ClientSession, which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
WORKS = load_works(default_rules_dir())
POEM = WORKS["poems/lighthouse-keeper"].answer()
SONG = WORKS["songs/copper-river-blues"].answer()
PROSE = WORKS["prose/the-cartographers-daughter"].answer()
FAST = DemoSettings(rules_dir=default_rules_dir(), delay_ms=0)
WEATHER_TOOL_OPENAI: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}

PROMPTS = [
    ("Tell me something nice.", CLEAN_ANSWER),
    ("Write me a poem about the sea", POEM),
    ("What are the lyrics of that river song?", SONG),
    ("Tell me a story about a cartographer", PROSE),
    ("echo: Hello, wörld 👋 — 世界!", "Hello, wörld 👋 — 世界!"),
    ("echo:no space", "no space"),
]


@dataclass
class Demo:
    """A running demo upstream."""

    url: str
    app: web.Application


Start = Callable[..., Awaitable[Demo]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start demo upstreams on loopback sockets; stop them after the test."""
    async with AsyncExitStack() as stack:

        async def run(settings: DemoSettings, handler_cancellation: bool = False) -> Demo:
            app = make_demo_app(settings)
            runner = web.AppRunner(app, handler_cancellation=handler_cancellation)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return Demo(f"http://{host}:{port}", app)

        yield run


@pytest.fixture
async def demo(start: Start) -> Demo:
    """A demo upstream without pacing."""
    return await start(FAST)


@pytest.fixture
async def oai(demo: Demo) -> AsyncIterator[openai.AsyncOpenAI]:
    """The OpenAI SDK pointed at the demo."""
    async with openai.AsyncOpenAI(base_url=f"{demo.url}/v1", api_key="k", max_retries=0) as c:
        yield c


@pytest.fixture
async def claude(demo: Demo) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The Anthropic SDK pointed at the demo."""
    async with anthropic.AsyncAnthropic(base_url=demo.url, api_key="k", max_retries=0) as c:
        yield c


@pytest.fixture
async def llama(demo: Demo) -> AsyncIterator[ollama.AsyncClient]:
    """The Ollama SDK pointed at the demo."""
    client = ollama.AsyncClient(host=demo.url)
    yield client
    await client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
async def gemini(demo: Demo) -> AsyncIterator[google.genai.client.AsyncClient]:
    """The Google Gen AI SDK pointed at the demo."""
    options = genai_types.HttpOptions(base_url=demo.url)
    client = google.genai.Client(api_key="k", http_options=options).aio
    yield client
    await client.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def user(text: str) -> list[Any]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_chat_stream(oai: openai.AsyncOpenAI, prompt: str, expected: str) -> None:
    """A streamed chat completion parses and its deltas add up to the answer."""
    stream = await oai.chat.completions.create(model="m", messages=user(prompt), stream=True)
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_chat_complete(oai: openai.AsyncOpenAI, prompt: str, expected: str) -> None:
    """A non-streamed chat completion carries the whole answer and usage."""
    done = await oai.chat.completions.create(model="m", messages=user(prompt))
    assert done.choices[0].message.content == expected
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("headers", "second"),
    [({}, CLEAN_ANSWER), ({"x-demo-answers": "clean, prose/the-cartographers-daughter"}, PROSE)],
)
async def test_chat_two_choices(
    oai: openai.AsyncOpenAI, headers: dict[str, str], second: str
) -> None:
    """With n=2 the choices interleave; choice 1 is clean unless x-demo-answers names it."""
    stream = await oai.chat.completions.create(
        model="m", messages=user("a poem please"), n=2, stream=True, extra_headers=headers
    )
    texts = ["", ""]
    order = []
    async for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            order.append(choice.index)
    first = CLEAN_ANSWER if headers else POEM
    assert texts == [first, second]
    assert order[:4] == [0, 1, 0, 1]


async def test_chat_usage_and_logprobs(oai: openai.AsyncOpenAI) -> None:
    """include_usage adds a final usage chunk; logprobs describe every delta."""
    stream = await oai.chat.completions.create(
        model="m",
        messages=user("echo: ab→cdéfgh"),
        stream=True,
        logprobs=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    for chunk in chunks[1:-2]:
        delta, lp = chunk.choices[0].delta.content, chunk.choices[0].logprobs
        assert delta and lp and lp.content and lp.content[0].token == delta
        assert lp.content[0].bytes == list(delta.encode())


@pytest.mark.parametrize("stream", [True, False])
async def test_chat_tool_call(oai: openai.AsyncOpenAI, stream: bool) -> None:
    """Asking for the weather with tools yields a get_weather call, streamed in fragments."""
    messages = user("What's the weather in Lisbon?")
    if stream:
        events = await oai.chat.completions.create(
            model="m", messages=messages, tools=[WEATHER_TOOL_OPENAI], stream=True
        )
        name, args, finish = "", "", None
        async for chunk in events:
            for call in chunk.choices[0].delta.tool_calls or []:
                name += call.function.name or "" if call.function else ""
                args += call.function.arguments or "" if call.function else ""
            finish = chunk.choices[0].finish_reason or finish
    else:
        done = await oai.chat.completions.create(
            model="m", messages=messages, tools=[WEATHER_TOOL_OPENAI]
        )
        calls = done.choices[0].message.tool_calls or []
        assert calls[0].type == "function"
        name, args = calls[0].function.name, calls[0].function.arguments
        finish = done.choices[0].finish_reason
    assert (name, finish) == ("get_weather", "tool_calls")
    assert json.loads(args)["location"] == "Lisbon"


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS[:3])
async def test_completions(oai: openai.AsyncOpenAI, prompt: str, expected: str) -> None:
    """Legacy completions stream text chunks and answer in one object too."""
    stream = await oai.completions.create(model="m", prompt=prompt, stream=True)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].text for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    done = await oai.completions.create(model="m", prompt=prompt)
    assert done.choices[0].text == expected


@pytest.mark.parametrize(
    "given",
    [
        "Sing me a song",
        [{"role": "user", "content": "Sing me a song"}],
        [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "song"}]}],
    ],
)
async def test_responses(oai: openai.AsyncOpenAI, given: Any) -> None:
    """Responses: create, a raw event stream and the helper's final response all agree."""
    done = await oai.responses.create(model="m", input=given)
    assert done.output_text == SONG and done.status == "completed"
    events = [e async for e in await oai.responses.create(model="m", input=given, stream=True)]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "".join(getattr(e, "delta", "") for e in events) == SONG
    async with oai.responses.stream(model="m", input=given) as stream:
        final = await stream.get_final_response()
    assert final.output_text == SONG
    assert final.usage is not None and final.usage.output_tokens > 0


@pytest.mark.parametrize("stream", [True, False])
async def test_responses_tool_call(oai: openai.AsyncOpenAI, stream: bool) -> None:
    """Responses with a function tool emit a function_call item."""
    tool: Any = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    question = "weather in Oslo?"
    done: openai.types.responses.Response
    if stream:
        async with oai.responses.stream(model="m", input=question, tools=[tool]) as events:
            done = await events.get_final_response()
    else:
        done = await oai.responses.create(model="m", input=question, tools=[tool])
    item = done.output[0]
    assert item.type == "function_call" and item.name == "get_weather"
    assert json.loads(item.arguments) == {"location": "Oslo", "unit": "celsius"}


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_anthropic(claude: anthropic.AsyncAnthropic, prompt: str, expected: str) -> None:
    """Anthropic messages: create, and the stream helper's text and final message."""
    blocks: Any = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    done = await claude.messages.create(model="m", max_tokens=99, messages=blocks)
    assert done.content[0].type == "text" and done.content[0].text == expected
    assert done.stop_reason == "end_turn"
    async with claude.messages.stream(model="m", max_tokens=99, messages=user(prompt)) as s:
        streamed = "".join([t async for t in s.text_stream])
        final = await s.get_final_message()
    assert streamed == expected
    assert final.content[0].type == "text" and final.content[0].text == expected
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@pytest.mark.parametrize("stream", [True, False])
async def test_anthropic_tool_use(claude: anthropic.AsyncAnthropic, stream: bool) -> None:
    """Anthropic tools: a tool_use block whose input arrives as input_json_delta."""
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    args: Any = {
        "model": "m",
        "max_tokens": 99,
        "messages": user("weather in Rome"),
        "tools": tools,
    }
    if stream:
        async with claude.messages.stream(**args) as s:
            done = await s.get_final_message()
    else:
        done = await claude.messages.create(**args)
    block = done.content[0]
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.input == {"location": "Rome", "unit": "celsius"}
    assert done.stop_reason == "tool_use"


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_ollama(llama: ollama.AsyncClient, prompt: str, expected: str) -> None:
    """Ollama chat and generate, streamed (the default) and not."""
    parts = [p async for p in await llama.chat(model="m", messages=user(prompt), stream=True)]
    assert "".join(p.message.content or "" for p in parts) == expected
    assert parts[-1].done and parts[-1].done_reason == "stop" and parts[-1].eval_count
    whole = await llama.chat(model="m", messages=user(prompt))
    assert whole.message.content == expected
    pieces = [p async for p in await llama.generate(model="m", prompt=prompt, stream=True)]
    assert "".join(p.response or "" for p in pieces) == expected
    assert pieces[-1].done and pieces[-1].context
    assert (await llama.generate(model="m", prompt=prompt)).response == expected


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_gemini(gemini: google.genai.client.AsyncClient, prompt: str, expected: str) -> None:
    """Gemini generate_content and its stream (SSE): the text, finish reason and usage."""
    whole = await gemini.models.generate_content(model="m", contents=prompt)
    assert whole.text == expected
    assert whole.candidates and whole.candidates[0].finish_reason == "STOP"
    usage = whole.usage_metadata
    assert usage and usage.total_token_count == (usage.prompt_token_count or 0) + (
        usage.candidates_token_count or 0
    )
    stream = await gemini.models.generate_content_stream(model="m", contents=prompt)
    parts = [chunk async for chunk in stream]
    assert "".join(p.text or "" for p in parts) == expected
    last = parts[-1]
    assert last.candidates and last.candidates[0].finish_reason == "STOP"
    assert last.usage_metadata == usage


@pytest.mark.parametrize("stream", [True, False])
async def test_gemini_function_call(gemini: google.genai.client.AsyncClient, stream: bool) -> None:
    """Gemini tools: a whole functionCall part with its arguments as an object."""
    weather = genai_types.FunctionDeclaration(name="get_weather", description="the weather")
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[weather])],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
    )
    args: Any = {"model": "m", "contents": "weather in Rome", "config": config}
    if stream:
        done = [c async for c in await gemini.models.generate_content_stream(**args)][-1]
    else:
        done = await gemini.models.generate_content(**args)
    assert done.function_calls and done.function_calls[0].name == "get_weather"
    assert done.function_calls[0].args == {"location": "Rome", "unit": "celsius"}


async def test_gemini_array_stream(demo: Demo, http: aiohttp.ClientSession) -> None:
    """Without alt=sse Gemini streams one JSON array, element by element, two candidates."""
    body = {"contents": [{"parts": [{"text": "echo: hello there"}]}],
            "generationConfig": {"candidateCount": 2}}  # fmt: skip
    url = f"{demo.url}/v1beta/models/m:streamGenerateContent"
    async with http.post(url, json=body) as resp:
        assert resp.content_type == "application/json"
        elements = orjson.loads(await resp.read())
    texts = ["", ""]
    for element in elements:
        for candidate in element["candidates"]:
            texts[candidate["index"]] += candidate["content"]["parts"][0]["text"]
    assert texts == ["hello there", CLEAN_ANSWER]
    assert [c["finishReason"] for c in elements[-1]["candidates"]] == ["STOP", "STOP"]
    assert all("finishReason" not in c for e in elements[:-1] for c in e["candidates"])


async def test_ollama_streams_by_default(demo: Demo, http: aiohttp.ClientSession) -> None:
    """Without "stream", Ollama answers in NDJSON lines ending with done:true."""
    body = {"model": "m", "prompt": "echo: hello there"}
    async with http.post(f"{demo.url}/api/generate", json=body) as resp:
        assert resp.content_type == "application/x-ndjson"
        lines = [orjson.loads(line) for line in (await resp.read()).splitlines()]
    assert [line["done"] for line in lines] == [False] * 3 + [True]
    assert "".join(line["response"] for line in lines) == "hello there"


@pytest.mark.parametrize("size", [1, 3, 4, 7])
async def test_chunks_keep_characters_whole(
    start: Start, http: aiohttp.ClientSession, size: int
) -> None:
    """Every delta holds exactly chunk_chars whole characters (the last may be shorter)."""
    demo = await start(replace(FAST, chunk_chars=size))
    text = "naïve café 👩‍💻 日本語テキスト — ok"
    body = {"model": "m", "messages": user(f"echo: {text}"), "stream": True}
    async with http.post(f"{demo.url}/v1/chat/completions", json=body) as resp:
        raw = await resp.read()
    events = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: {")]
    deltas = [orjson.loads(e)["choices"][0]["delta"].get("content") for e in events]
    pieces = [d for d in deltas if d]
    assert "".join(pieces) == text
    assert all(len(p) == size for p in pieces[:-1])
    raw.decode("utf-8")


@pytest.mark.parametrize(
    ("header", "expected", "status"),
    [("clean", CLEAN_ANSWER, 200), ("poems/lighthouse-keeper", POEM, 200), ("nope", "", 400)],
)
async def test_forced_answer(
    demo: Demo, http: aiohttp.ClientSession, header: str, expected: str, status: int
) -> None:
    """x-demo-answer forces an answer by name; unknown names are a 400."""
    body = {"model": "m", "messages": user("echo: ignored")}
    headers = {"x-demo-answer": header}
    async with http.post(f"{demo.url}/v1/chat/completions", json=body, headers=headers) as resp:
        assert resp.status == status
        got = await resp.json()
    if status == 200:
        assert got["choices"][0]["message"]["content"] == expected
    else:
        assert got["error"]["type"] == "invalid_request_error"


async def test_max_chunks_pads_with_clean_text(start: Start, http: aiohttp.ClientSession) -> None:
    """max_chunks gives exactly that many chunks, repeating the clean answer."""
    demo = await start(replace(FAST, max_chunks=300))
    body = {"model": "m", "messages": user("echo: hi"), "stream": True}
    async with http.post(f"{demo.url}/v1/chat/completions", json=body) as resp:
        raw = await resp.read()
    events = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    pieces = [e["choices"][0]["delta"].get("content") for e in events]
    text = "".join(p for p in pieces if p)
    assert len([p for p in pieces if p]) == 300 and len(text) == 1200
    assert text.startswith(f"hi {CLEAN_ANSWER} {CLEAN_ANSWER[:20]}")


async def stats(http: aiohttp.ClientSession, demo: Demo) -> dict[str, int]:
    """GET /demo/stats."""
    async with http.get(f"{demo.url}/demo/stats") as resp:
        got: dict[str, int] = await resp.json()
    return got


async def wait_for_stat(http: aiohttp.ClientSession, demo: Demo, key: str, want: int) -> None:
    """Poll /demo/stats until ``key`` reaches ``want``, for at most one second."""
    async with asyncio.timeout(1):
        while (await stats(http, demo))[key] != want:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("cancel", [False, True])
async def test_disconnect_is_counted(
    start: Start, http: aiohttp.ClientSession, cancel: bool
) -> None:
    """A client that leaves mid-stream is counted as disconnected within a second."""
    demo = await start(replace(FAST, delay_ms=5, max_chunks=10_000), handler_cancellation=cancel)
    body = {"model": "m", "messages": user("hello"), "stream": True}
    resp = await http.post(f"{demo.url}/v1/chat/completions", json=body)
    await resp.content.readline()
    assert (await stats(http, demo))["active_streams"] == 1
    resp.close()
    await wait_for_stat(http, demo, "disconnected_streams", 1)
    got = await stats(http, demo)
    assert got["active_streams"] == 0 and got["completed_streams"] == 0
    assert got == demo.app[DEMO_STATS].as_dict()


ROUTES: list[tuple[str, dict[str, Any], bytes]] = [
    ("/v1/chat/completions", {"messages": user("hi"), "stream": True}, b"data: [DONE]"),
    ("/v1/completions", {"prompt": "hi", "stream": True}, b"data: [DONE]"),
    ("/v1/responses", {"input": "hi", "stream": True}, b"event: response.completed"),
    ("/v1/messages", {"messages": user("hi"), "max_tokens": 9, "stream": True}, b"message_stop"),
    ("/api/chat", {"messages": user("hi")}, b'"done":true'),
    ("/api/generate", {"prompt": "hi"}, b'"done":true'),
    ("/v1beta/models/m:streamGenerateContent?alt=sse", {"contents": user("hi")}, b'"STOP"'),
    ("/v1beta/models/m:streamGenerateContent", {"contents": user("hi")}, b'"STOP"'),
]
ROUTE_IDS = [route for route, _, _ in ROUTES]
ERROR_SHAPES: dict[str, Callable[[Any], bool]] = {
    "/v1/chat/completions": lambda b: b["error"]["type"] == "server_error",
    "/v1/completions": lambda b: b["error"]["type"] == "server_error",
    "/v1/responses": lambda b: b["error"]["type"] == "server_error",
    "/v1/messages": lambda b: b["type"] == "error" and b["error"]["type"] == "api_error",
    "/api/chat": lambda b: isinstance(b["error"], str),
    "/api/generate": lambda b: isinstance(b["error"], str),
    **dict.fromkeys(
        [route for route, _, _ in ROUTES if ":" in route],
        lambda b: b["error"] == {"code": 500, "message": ANY, "status": "INTERNAL"},
    ),
}


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_plain_stream_is_complete(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """Without a fault every route ends with its terminal event and counts as completed."""
    async with http.post(demo.url + route, json={"model": "m", **body}) as resp:
        assert terminal in await resp.read()
    await wait_for_stat(http, demo, "completed_streams", 1)


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_fault_error_500(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """error-500 answers HTTP 500 with the format's own JSON error body."""
    headers = {"x-demo-fault": "error-500"}
    async with http.post(demo.url + route, json={"model": "m", **body}, headers=headers) as resp:
        assert resp.status == 500
        assert ERROR_SHAPES[route](await resp.json())


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_fault_cut(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """cut ends the body cleanly after a few events, without the terminal event."""
    headers = {"x-demo-fault": "cut"}
    async with http.post(demo.url + route, json={"model": "m", **body}, headers=headers) as resp:
        raw = await resp.read()
    assert terminal not in raw and raw.count(b"\n") >= 6
    await wait_for_stat(http, demo, "faulted_streams", 1)


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_fault_garbage(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """garbage puts one non-JSON data line in the middle of an otherwise complete stream."""
    headers = {"x-demo-fault": "garbage"}
    async with http.post(demo.url + route, json={"model": "m", **body}, headers=headers) as resp:
        raw = await resp.read()
    assert b"{this is not json\n" in raw and terminal in raw
    assert raw.index(b"{this is not json") < raw.index(terminal)


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_fault_stall(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """stall sends one event then nothing; the client leaving is counted as a disconnect."""
    headers = {"x-demo-fault": "stall"}
    resp = await http.post(demo.url + route, json={"model": "m", **body}, headers=headers)
    assert resp.status == 200
    assert (await resp.content.readline()).strip()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await resp.read()
    resp.close()
    await wait_for_stat(http, demo, "disconnected_streams", 1)


@pytest.mark.parametrize(("route", "body", "terminal"), ROUTES, ids=ROUTE_IDS)
async def test_fault_reset(
    demo: Demo, http: aiohttp.ClientSession, route: str, body: dict[str, Any], terminal: bytes
) -> None:
    """reset aborts the connection mid-stream: the client sees an incomplete body."""
    headers = {"x-demo-fault": "reset"}
    async with http.post(demo.url + route, json={"model": "m", **body}, headers=headers) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    await wait_for_stat(http, demo, "faulted_streams", 1)


@pytest.mark.parametrize("fault", ["cut", "garbage", "stall", "reset"])
async def test_fault_without_stream(demo: Demo, http: aiohttp.ClientSession, fault: str) -> None:
    """Non-streamed answers fail too: a truncated, non-JSON or never-sent body."""
    body = {"model": "m", "messages": user("hi")}
    url, headers = f"{demo.url}/v1/chat/completions", {"x-demo-fault": fault}
    if fault == "stall":
        # aiohttp's own read timeout, not a cancellation from outside: the latter races
        # with aiohttp's timer under load and can leave the test task cancelled.
        stalled = http.post(
            url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(sock_read=0.3)
        )
        with pytest.raises(TimeoutError):
            async with stalled:
                pass
        return
    post = http.post(url, json=body, headers=headers)
    async with post as resp:
        if fault == "garbage":
            with pytest.raises(json.JSONDecodeError):
                json.loads(await resp.read())
        else:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()


async def test_sdk_sees_500(oai: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic) -> None:
    """The SDKs turn error-500 into their own server-error exceptions."""
    headers = {"x-demo-fault": "error-500"}
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(model="m", messages=user("x"), extra_headers=headers)
    with pytest.raises(anthropic.InternalServerError):
        await claude.messages.create(
            model="m", max_tokens=9, messages=user("x"), extra_headers=headers
        )


async def test_gemini_sdk_sees_500(gemini: google.genai.client.AsyncClient) -> None:
    """The Gen AI SDK turns error-500 into its ServerError, with Google's status name."""
    config = genai_types.GenerateContentConfig(
        http_options=genai_types.HttpOptions(headers={"x-demo-fault": "error-500"})
    )
    with pytest.raises(genai_errors.ServerError) as raised:
        await gemini.models.generate_content(model="m", contents="x", config=config)
    assert raised.value.code == 500 and raised.value.status == "INTERNAL"


async def test_side_routes(oai: openai.AsyncOpenAI, llama: ollama.AsyncClient) -> None:
    """Model lists and embeddings (float and base64) answer like the real servers."""
    models = await oai.models.list()
    assert [m.id for m in models.data] == ["copyguard-demo"]
    tags = await llama.list()
    assert tags.models[0].model == "copyguard-demo:latest"
    floats = await oai.embeddings.create(model="e", input=["a", "b"])
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 16
    packed = await oai.embeddings.create(model="e", input="a", encoding_format="base64")
    vector: Any = packed.data[0].embedding
    if isinstance(vector, str):
        vector = list(struct.unpack("<16f", base64.b64decode(vector)))
    assert vector == pytest.approx(floats.data[0].embedding)


def test_front_matter_is_not_work_text(tmp_path: Path) -> None:
    """Front matter is stripped and its title used; files without it are read whole."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("---\ntitle: One\nowner: x\n---\nline 1\nline 2\n")
    (tmp_path / "two.txt").write_text("just text\n")
    works = load_works(tmp_path)
    assert works["a/one"].text == "line 1\nline 2" and works["a/one"].title == "One"
    assert works["two"] == parse_work("two", "just text")
    assert WORKS["poems/lighthouse-keeper"].text.startswith("I count the ships")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("poems/lighthouse-keeper 3 8", "ships that do not come,\nI count the"),
        ("poems/lighthouse-keeper 0 2", "I count"),
        ("poems/lighthouse-keeper 100000 8", ""),
    ],
)
def test_next_words_answers_a_slice_of_a_work(spec: str, expected: str) -> None:
    """x-demo-next names a work, a word position and a count: that slice, verbatim."""
    assert next_words(spec, load_works(default_rules_dir())) == expected


def test_echo64_says_the_decoded_text_only() -> None:
    """echo64 decodes up to the first white space; the rest of the prompt is not said."""
    works = load_works(default_rules_dir())
    assert choose_answer(echo64("Ünï text") + " and more", works) == "Ünï text"
