"""The demo upstream's aiohttp application: routes, pacing, faults and stream counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from proxy.demo import extras
from proxy.demo.answers import (
    CLEAN,
    NEXT_HEADER,
    Work,
    choose_answer,
    chunks,
    load_works,
    named_answer,
    next_words,
    paced,
    tool_arguments,
)
from proxy.demo.anthropic_messages import Messages
from proxy.demo.faults import (
    ERROR_500,
    FAULT_HEADER,
    FAULT_NAMES,
    STREAM_FAULTS,
    Then,
    fail_body,
)
from proxy.demo.formats import BadRequest, Format, Prompt, Reply, ToolCall, count_tokens
from proxy.demo.gemini_api import Gemini
from proxy.demo.ollama_api import OllamaChat, OllamaGenerate
from proxy.demo.openai_chat import ChatCompletions, Completions
from proxy.demo.openai_responses import Responses

ANSWER_HEADER = "x-demo-answer"
LEAD_HEADER = "x-demo-lead"  # with x-demo-next: a sentence before the words
ANSWERS_HEADER = "x-demo-answers"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class DemoSettings:
    """How the demo upstream behaves."""

    rules_dir: Path
    delay_ms: float = 20
    chunk_chars: int = 4
    max_chunks: int | None = None
    model: str = "copyguard-demo"


@dataclass
class DemoStats:
    """Counters for tests and benchmarks (also served at GET /demo/stats)."""

    requests: int = 0
    active_streams: int = 0
    completed_streams: int = 0
    disconnected_streams: int = 0
    faulted_streams: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


DEMO_SETTINGS = web.AppKey("demo_settings", DemoSettings)
DEMO_STATS = web.AppKey("demo_stats", DemoStats)
DEMO_WORKS = web.AppKey("demo_works", dict[str, Work])

FORMATS: tuple[tuple[str, Format], ...] = (
    ("/v1/chat/completions", ChatCompletions()),
    ("/v1/completions", Completions()),
    ("/v1/responses", Responses()),
    ("/v1/messages", Messages()),
    ("/api/chat", OllamaChat()),
    ("/api/generate", OllamaGenerate()),
    *((f"/{v}/models/{{model}}:generateContent", Gemini()) for v in ("v1beta", "v1")),
)
GEMINI_STREAMS = tuple(f"/{v}/models/{{model}}:streamGenerateContent" for v in ("v1beta", "v1"))


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def plan_reply(
    prompt: Prompt, headers: Any, settings: DemoSettings, works: dict[str, Work]
) -> Reply:
    """Choose every choice's text (or a tool call); KeyError names an unknown forced answer."""
    per_choice = [n.strip() for n in headers.get(ANSWERS_HEADER, "").split(",") if n.strip()]
    forced = headers.get(ANSWER_HEADER)
    texts = []
    for index in range(prompt.n):
        if per_choice:
            name = per_choice[index] if index < len(per_choice) else CLEAN
        else:
            name = forced if index == 0 else CLEAN
        if index == 0 and NEXT_HEADER in headers:
            lead = headers.get(LEAD_HEADER, "")
            text = (lead + " " if lead else "") + next_words(headers[NEXT_HEADER], works)
        elif name is None:
            text = choose_answer(prompt.user_text, works)
        else:
            text = named_answer(name, works)
        texts.append(paced(text, settings.chunk_chars, settings.max_chunks))
    tool = None
    wants_tool = not (forced or per_choice) and "weather" in prompt.user_text.lower()
    if prompt.tool_name and wants_tool:
        arguments = tool_arguments(prompt.user_text)
        tool = ToolCall(prompt.tool_name, arguments, chunks(arguments, settings.chunk_chars))
        texts = [""] * prompt.n
    return Reply(
        model=prompt.model or settings.model,
        created=int(time.time()),
        choices=tuple(chunks(t, settings.chunk_chars) for t in texts),
        prompt_tokens=count_tokens(prompt.user_text),
        tool=tool,
        include_usage=prompt.include_usage,
        logprobs=prompt.logprobs,
    )


async def _stream(
    request: web.Request, fmt: Format, reply: Reply, fault_name: str | None
) -> web.StreamResponse:
    stats = request.app[DEMO_STATS]
    delay_s = request.app[DEMO_SETTINGS].delay_ms / 1000
    fault = STREAM_FAULTS.get(fault_name or "")
    resp = web.StreamResponse(
        headers={"Content-Type": fmt.framing.content_type, "Cache-Control": "no-cache"}
    )
    stats.active_streams += 1
    outcome = "disconnected"
    try:
        await resp.prepare(request)
        then = Then.CONTINUE
        for index, frame in enumerate(fmt.stream(reply)):
            if fault is not None and index == fault.at:
                then = await fault.act(request, resp, fmt.framing)
                if then is not Then.CONTINUE:
                    break
            if frame.paced and delay_s > 0:
                await asyncio.sleep(delay_s)
            await resp.write(frame.data)
        if then is not Then.ABORT:
            await resp.write_eof()
        outcome = "completed" if then is Then.CONTINUE else "faulted"
    except ConnectionError:
        pass
    finally:
        stats.active_streams -= 1
        if outcome == "completed":
            stats.completed_streams += 1
        elif outcome == "faulted":
            stats.faulted_streams += 1
        else:
            stats.disconnected_streams += 1
    return resp


def _generation_handler(fmt: Format) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        app = request.app
        app[DEMO_STATS].requests += 1
        settings = app[DEMO_SETTINGS]
        fault = request.headers.get(FAULT_HEADER)
        try:
            if fault is not None and fault not in FAULT_NAMES:
                raise BadRequest(
                    f"unknown {FAULT_HEADER} {fault!r}: use one of {sorted(FAULT_NAMES)}"
                )
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"request body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            prompt = fmt.parse(body)
            try:
                reply = plan_reply(prompt, request.headers, settings, app[DEMO_WORKS])
            except KeyError as exc:
                raise BadRequest(f"unknown demo answer {exc.args[0]!r}") from None
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        except BadRequest as exc:
            return _json(fmt.error(400, str(exc)), status=400)
        if fault == ERROR_500:
            return _json(fmt.error(500, "The demo upstream failed on purpose."), status=500)
        if prompt.stream:
            return await _stream(request, fmt, reply, fault)
        if settings.delay_ms > 0:
            await asyncio.sleep(settings.delay_ms / 1000 * reply.completion_tokens)
        if fault is not None:
            return await fail_body(request, fault, orjson.dumps(fmt.complete(reply)))
        return _json(fmt.complete(reply))

    return handle


def _by_alt(sse: Format, array: Format) -> Handler:
    """Gemini streams SSE when asked with ``alt=sse``, else one JSON array piece by piece."""
    on_sse, on_array = _generation_handler(sse), _generation_handler(array)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await (on_sse if request.query.get("alt") == "sse" else on_array)(request)

    return handle


async def _models(request: web.Request) -> web.Response:
    return _json(extras.openai_models(request.app[DEMO_SETTINGS].model))


async def _tags(request: web.Request) -> web.Response:
    return _json(extras.ollama_tags(request.app[DEMO_SETTINGS].model))


async def _embeddings(request: web.Request) -> web.Response:
    request.app[DEMO_STATS].requests += 1
    try:
        body = orjson.loads(await request.read())
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        return _json(extras.embeddings(body, request.app[DEMO_SETTINGS].model))
    except (BadRequest, orjson.JSONDecodeError) as exc:
        body = {"error": {"message": str(exc), "type": "invalid_request_error"}}
        return _json(body, status=400)


async def _stats(request: web.Request) -> web.Response:
    return _json(request.app[DEMO_STATS].as_dict())


def make_demo_app(settings: DemoSettings) -> web.Application:
    """The demo upstream application; the sample works are read here, once."""
    if settings.chunk_chars < 1:
        raise ValueError("chunk_chars must be at least 1")
    app = web.Application()
    app[DEMO_SETTINGS] = settings
    app[DEMO_STATS] = DemoStats()
    app[DEMO_WORKS] = load_works(settings.rules_dir)
    for path, fmt in FORMATS:
        app.router.add_post(path, _generation_handler(fmt))
    for path in GEMINI_STREAMS:
        app.router.add_post(path, _by_alt(Gemini(stream=True), Gemini(stream=True, sse=False)))
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/api/tags", _tags)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/demo/stats", _stats)
    return app


async def serve_demo(settings: DemoSettings, host: str, port: int) -> None:
    """Serve the demo upstream on ``host:port`` until cancelled."""
    runner = web.AppRunner(make_demo_app(settings), handler_cancellation=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=2048).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
