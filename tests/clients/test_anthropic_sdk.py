"""The official anthropic SDK, sync and async, pointed at the proxy: Messages, streamed and not."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic import Anthropic, AsyncAnthropic, DefaultAsyncHttpxClient, DefaultHttpxClient

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

REQUEST: dict[str, Any] = {
    "model": "copyguard-demo",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Tell me something."}],
}
STOP = {Outcome.CLEAN: "end_turn", Outcome.BLOCKED: "refusal", Outcome.REDACTED: "end_turn"}


def sync_client(base: str, headers: dict[str, str]) -> Anthropic:
    http = DefaultHttpxClient(verify=TLS)
    return Anthropic(
        base_url=base,
        api_key="sk-ant-test",
        default_headers=headers,
        http_client=http,
        max_retries=0,
    )


def async_client(base: str, headers: dict[str, str]) -> AsyncAnthropic:
    http = DefaultAsyncHttpxClient(verify=TLS)
    return AsyncAnthropic(
        base_url=base,
        api_key="sk-ant-test",
        default_headers=headers,
        http_client=http,
        max_retries=0,
    )


def _text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def _message(message: Any) -> Got:
    return Got(_text_of(message), message.stop_reason, [message])


def _events(events: list[Any]) -> Got:
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    stops = [e.delta.stop_reason for e in events if e.type == "message_delta"]
    assert events[-1].type == "message_stop" and len(stops) == 1
    return Got(text, stops[0], events)


def _helper(pieces: list[str], final: Any, final_text: str) -> Got:
    """``text_stream`` pieces, and ``get_final_message()`` / ``get_final_text()`` after it."""
    return Got("".join(pieces), final.stop_reason, [final], [_text_of(final), final_text])


def _stream_helper_sync(client: Anthropic) -> Got:
    with client.messages.stream(**REQUEST) as stream:
        pieces = list(stream.text_stream)
        return _helper(pieces, stream.get_final_message(), stream.get_final_text())


async def _stream_helper_async(client: AsyncAnthropic) -> Got:
    async with client.messages.stream(**REQUEST) as stream:
        pieces = [piece async for piece in stream.text_stream]
        return _helper(pieces, await stream.get_final_message(), await stream.get_final_text())


CALLS = [
    plain_call("messages", lambda c: c.messages.create(**REQUEST), _message, STOP, stream=False),
    plain_call(
        "messages-stream",
        lambda c: c.messages.create(**REQUEST, stream=True),
        _events,
        STOP,
        stream=True,
    ),
    Call("messages.stream-helper", _stream_helper_sync, _stream_helper_async, STOP),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=ANSWER_IDS)
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_anthropic_sdk(
    start_stack: StartStack, flavour: str, call: Call, answer: Answer
) -> None:
    """The anthropic SDK sees stop_reason, no protected run, and the clean text intact."""
    await check_call(start_stack, call, flavour, answer, sync_client, async_client)
