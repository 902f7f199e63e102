"""The official google-genai SDK, sync and async, pointed at the proxy: generateContent and its
SSE stream, plain and through a chat (whose history repeats the answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from google import genai
from google.genai import types

from tests.clients.common import (
    ANSWER_IDS,
    ANSWERS,
    FLAVOURS,
    Answer,
    Call,
    Got,
    Outcome,
    check_call,
    plain_call,
)
from tests.proxy.harness import StartStack

# google-genai's async client subclasses aiohttp's ClientSession, which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
MODEL = "copyguard-demo"
PROMPT = "Tell me something."
FINISH = {Outcome.CLEAN: "STOP", Outcome.BLOCKED: "RECITATION", Outcome.REDACTED: "STOP"}


def _options(base: str, headers: dict[str, str]) -> types.HttpOptions:
    return types.HttpOptions(base_url=base, headers=headers)


@contextmanager
def sync_client(base: str, headers: dict[str, str]) -> Iterator[genai.Client]:
    with genai.Client(api_key="test-key", http_options=_options(base, headers)) as client:
        yield client


@asynccontextmanager
async def async_client(base: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with genai.Client(api_key="test-key", http_options=_options(base, headers)).aio as c:
        yield c


def _text(response: Any) -> str:
    parts = response.candidates[0].content.parts or [] if response.candidates else []
    return "".join(p.text or "" for p in parts if not p.thought)


def _finish(response: Any) -> str | None:
    candidates = response.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    return None if reason is None else str(reason.value)


def _whole(response: Any) -> Got:
    usage = response.usage_metadata
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    return Got(_text(response), _finish(response), [response])


def _chunks(chunks: list[Any], also: list[str] | None = None) -> Got:
    """Streamed responses: only the last finishes, and the text adds up."""
    reasons = [_finish(c) for c in chunks]
    assert reasons[:-1] == [None] * (len(chunks) - 1)
    return Got("".join(_text(c) for c in chunks), reasons[-1], chunks, also or [])


def _history(chat: Any) -> str:
    """The model's turn as the chat recorded it (one content per streamed chunk)."""
    user, *model = chat.get_history()
    assert user.role == "user" and {t.role for t in model} == {"model"}
    return "".join(p.text or "" for t in model for p in t.parts or [])


def _chat_sync(client: genai.Client) -> Got:
    chat = client.chats.create(model=MODEL)
    chunks = list(chat.send_message_stream(PROMPT))
    return _chunks(chunks, [_history(chat)])


async def _chat_async(client: Any) -> Got:
    chat = client.chats.create(model=MODEL)
    chunks = [c async for c in await chat.send_message_stream(PROMPT)]
    return _chunks(chunks, [_history(chat)])


CALLS = [
    plain_call(
        "generate_content",
        lambda c: c.models.generate_content(model=MODEL, contents=PROMPT),
        _whole,
        FINISH,
        stream=False,
    ),
    plain_call(
        "generate_content_stream",
        lambda c: c.models.generate_content_stream(model=MODEL, contents=PROMPT),
        _chunks,
        FINISH,
        stream=True,
    ),
    Call("chat-stream", _chat_sync, _chat_async, FINISH),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=ANSWER_IDS)
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_gemini_sdk(
    start_stack: StartStack, flavour: str, call: Call, answer: Answer
) -> None:
    """The google-genai SDK sees finish_reason, no protected run, and the clean text intact."""
    await check_call(start_stack, call, flavour, answer, sync_client, async_client)
