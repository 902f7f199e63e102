"""The official openai SDK, sync and async, pointed at the proxy: every guarded route."""

from __future__ import annotations

from typing import Any

import pytest
from openai import (
    AsyncOpenAI,
    ContentFilterFinishReasonError,
    DefaultAsyncHttpxClient,
    DefaultHttpxClient,
    OpenAI,
)
from openai.types.chat import ChatCompletionMessageParam

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
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell me something."}]
FINISH = {Outcome.CLEAN: "stop", Outcome.BLOCKED: "content_filter", Outcome.REDACTED: "stop"}
STATUS = {
    Outcome.CLEAN: "completed",
    Outcome.BLOCKED: "incomplete:content_filter",
    Outcome.REDACTED: "completed",
}


def sync_client(base: str, headers: dict[str, str]) -> OpenAI:
    http = DefaultHttpxClient(verify=TLS)
    return OpenAI(
        base_url=base + "/v1",
        api_key="sk-test",
        default_headers=headers,
        http_client=http,
        max_retries=0,
    )


def async_client(base: str, headers: dict[str, str]) -> AsyncOpenAI:
    http = DefaultAsyncHttpxClient(verify=TLS)
    return AsyncOpenAI(
        base_url=base + "/v1",
        api_key="sk-test",
        default_headers=headers,
        http_client=http,
        max_retries=0,
    )


def _chat(completion: Any) -> Got:
    choice = completion.choices[0]
    return Got(choice.message.content or "", choice.finish_reason, [completion])


def _chat_chunks(chunks: list[Any]) -> Got:
    choices = [c for chunk in chunks for c in chunk.choices]
    text = "".join(c.delta.content or "" for c in choices)
    return Got(text, [c.finish_reason for c in choices if c.finish_reason][-1], chunks)


def _completion(completion: Any) -> Got:
    choice = completion.choices[0]
    return Got(choice.text, choice.finish_reason, [completion])


def _completion_chunks(chunks: list[Any]) -> Got:
    choices = [c for chunk in chunks for c in chunk.choices]
    text = "".join(c.text for c in choices)
    return Got(text, [c.finish_reason for c in choices if c.finish_reason][-1], chunks)


def _status(response: Any) -> str:
    details = response.incomplete_details
    return str(response.status) + (f":{details.reason}" if details else "")


def _response(response: Any) -> Got:
    return Got(response.output_text, _status(response), [response])


def _response_events(events: list[Any], final: Any = None) -> Got:
    """Deltas, done texts and the terminal event's response (or the helper's ``final``)."""
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    dones = [e.text for e in events if e.type == "response.output_text.done"]
    assert events[-1].type in ("response.completed", "response.incomplete")
    final = final or events[-1].response
    snapshots = [e.snapshot for e in deltas[-1:] if hasattr(e, "snapshot")]  # helper events
    also = [*dones, *snapshots, final.output_text]
    return Got("".join(e.delta for e in deltas), _status(final), [*events, final], also)


def _incomplete(events: list[Any], error: RuntimeError) -> Any:
    """A blocked stream ends with ``response.incomplete``, on which this SDK's
    ``get_final_response()`` raises (openai-python PR #3538): its response is the final one."""
    assert events[-1].type == "response.incomplete" and "response.completed" in str(error)
    return events[-1].response


def _responses_helper_sync(client: OpenAI) -> Got:
    with client.responses.stream(model=MODEL, input="Tell me something.") as stream:
        events = list(stream)
        try:
            final = stream.get_final_response()
        except RuntimeError as error:
            final = _incomplete(events, error)
    return _response_events(events, final)


async def _responses_helper_async(client: AsyncOpenAI) -> Got:
    async with client.responses.stream(model=MODEL, input="Tell me something.") as stream:
        events = [event async for event in stream]
        try:
            final = await stream.get_final_response()
        except RuntimeError as error:
            final = _incomplete(events, error)
    return _response_events(events, final)


def _chat_helper(events: list[Any], final: Any) -> Got:
    """``content.delta`` events, their last snapshot, ``content.done`` and the final completion."""
    deltas = [e for e in events if e.type == "content.delta"]
    dones = [e.content for e in events if e.type == "content.done"]
    choice = final.choices[0]
    also = [choice.message.content or "", *[e.snapshot for e in deltas[-1:]], *dones]
    return Got("".join(e.delta for e in deltas), choice.finish_reason, [*events, final], also)


def _chat_helper_sync(client: OpenAI) -> Got:
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        events = list(stream)
        final: Any
        try:
            final = stream.get_final_completion()
        except ContentFilterFinishReasonError as error:  # the SDK's way to report a filter
            final = error.completion
    return _chat_helper(events, final)


async def _chat_helper_async(client: AsyncOpenAI) -> Got:
    async with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        events = [event async for event in stream]
        final: Any
        try:
            final = await stream.get_final_completion()
        except ContentFilterFinishReasonError as error:
            final = error.completion
    return _chat_helper(events, final)


def _chat_parse_sync(client: OpenAI) -> Got:
    """``parse()`` raises on a filtered answer, like the stream helper (README's handling)."""
    final: Any
    try:
        final = client.chat.completions.parse(model=MODEL, messages=MESSAGES)
    except ContentFilterFinishReasonError as error:
        final = error.completion
    return _chat(final)


async def _chat_parse_async(client: AsyncOpenAI) -> Got:
    final: Any
    try:
        final = await client.chat.completions.parse(model=MODEL, messages=MESSAGES)
    except ContentFilterFinishReasonError as error:
        final = error.completion
    return _chat(final)


def _chat_call(client: Any, stream: bool) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=stream)


def _completions_call(client: Any, stream: bool) -> Any:
    return client.completions.create(model=MODEL, prompt="Tell me something.", stream=stream)


def _responses_call(client: Any, stream: bool) -> Any:
    return client.responses.create(model=MODEL, input="Tell me something.", stream=stream)


CALLS = [
    plain_call("chat", lambda c: _chat_call(c, False), _chat, FINISH, stream=False),
    plain_call("chat-stream", lambda c: _chat_call(c, True), _chat_chunks, FINISH, stream=True),
    plain_call(
        "completions", lambda c: _completions_call(c, False), _completion, FINISH, stream=False
    ),
    plain_call(
        "completions-stream",
        lambda c: _completions_call(c, True),
        _completion_chunks,
        FINISH,
        stream=True,
    ),
    plain_call("responses", lambda c: _responses_call(c, False), _response, STATUS, stream=False),
    plain_call(
        "responses-stream",
        lambda c: _responses_call(c, True),
        _response_events,
        STATUS,
        stream=True,
    ),
    Call("chat.stream-helper", _chat_helper_sync, _chat_helper_async, FINISH),
    Call("chat.parse", _chat_parse_sync, _chat_parse_async, FINISH),
    Call("responses.stream-helper", _responses_helper_sync, _responses_helper_async, STATUS),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=ANSWER_IDS)
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_openai_sdk(
    start_stack: StartStack, flavour: str, call: Call, answer: Answer
) -> None:
    """The openai SDK sees the terminal signal, no protected run, and the clean text intact."""
    await check_call(start_stack, call, flavour, answer, sync_client, async_client)


async def test_parse_raises_on_a_block(start_stack: StartStack) -> None:
    """As the README says: parse() raises ContentFilterFinishReasonError, with what came."""
    from proxy.demo import ANSWER_HEADER

    stack = await start_stack()
    client = async_client(stack.proxy, {ANSWER_HEADER: "poems/lighthouse-keeper"})
    with pytest.raises(ContentFilterFinishReasonError) as raised:
        await client.chat.completions.parse(model=MODEL, messages=MESSAGES)
    completion = raised.value.completion
    assert completion is not None and completion.choices[0].finish_reason == "content_filter"
    await client.close()
