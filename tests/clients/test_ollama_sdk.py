"""The official ollama SDK, Client and AsyncClient, pointed at the proxy: chat and generate."""

from __future__ import annotations

from typing import Any

import ollama
import pytest

from tests.clients.common import (
    ANSWER_IDS,
    ANSWERS,
    FLAVOURS,
    TLS,
    Answer,
    Call,
    Got,
    Outcome,
    check_call,
    plain_call,
)
from tests.proxy.harness import StartStack

MODEL = "copyguard-demo"
MESSAGES = [{"role": "user", "content": "Tell me something."}]
DONE = {Outcome.CLEAN: "stop", Outcome.BLOCKED: "content_filter", Outcome.REDACTED: "stop"}


def sync_client(base: str, headers: dict[str, str]) -> ollama.Client:
    return ollama.Client(host=base, headers=headers, timeout=30, verify=TLS)


def async_client(base: str, headers: dict[str, str]) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=base, headers=headers, timeout=30, verify=TLS)


def _parts(parts: list[Any], text: Any) -> Got:
    """Streamed lines: only the last is ``done``, and it carries the reason."""
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    return Got("".join(text(p) or "" for p in parts), parts[-1].done_reason, parts)


def _one(response: Any, text: str | None) -> Got:
    assert response.done is True
    return Got(text or "", response.done_reason, [response])


def _chat(client: Any, stream: bool) -> Any:
    return client.chat(model=MODEL, messages=MESSAGES, stream=stream)


def _generate(client: Any, stream: bool) -> Any:
    return client.generate(model=MODEL, prompt="Tell me something.", stream=stream)


CALLS = [
    plain_call(
        "chat", lambda c: _chat(c, False), lambda r: _one(r, r.message.content), DONE, stream=False
    ),
    plain_call(
        "chat-stream",
        lambda c: _chat(c, True),
        lambda ps: _parts(ps, lambda p: p.message.content),
        DONE,
        stream=True,
    ),
    plain_call(
        "generate", lambda c: _generate(c, False), lambda r: _one(r, r.response), DONE, stream=False
    ),
    plain_call(
        "generate-stream",
        lambda c: _generate(c, True),
        lambda ps: _parts(ps, lambda p: p.response),
        DONE,
        stream=True,
    ),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=ANSWER_IDS)
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_ollama_sdk(
    start_stack: StartStack, flavour: str, call: Call, answer: Answer
) -> None:
    """The ollama SDK sees done_reason, no protected run, and the clean text intact."""
    await check_call(start_stack, call, flavour, answer, sync_client, async_client)
