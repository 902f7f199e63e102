"""Tests for the OpenAI Chat Completions dialect, driven by realistic upstream byte streams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from proxy.dialects.base import DialectError, StreamRewriter
from proxy.dialects.openai_chat import OpenAIChat
from proxy.dialects.sse import SseDecoder
from tests.fakes import ScriptedFilter

HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
KEEPALIVE = b":\n\n"  # a bare comment: passed on as it is (comment text is not)
DONE = b"data: [DONE]\n\n"


def chunk(*choices: dict[str, Any], **extra: Any) -> bytes:
    """One upstream SSE event carrying ``choices``."""
    return b"data: " + orjson.dumps({**HEAD, "choices": list(choices), **extra}) + b"\n\n"


def choice(i: int = 0, finish: str | None = None, lp: list[str] | None = None, **delta: Any) -> Any:
    """A streamed choice; ``lp`` gives the tokens of its logprobs entries."""
    out: dict[str, Any] = {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}
    if lp is not None:
        entries = [
            {"token": t, "logprob": -0.5, "bytes": list(t.encode()), "top_logprobs": []} for t in lp
        ]
        out["logprobs"] = {"content": entries, "refusal": None}
    return out


def text_stream(pieces: list[str], lp: bool = False, i: int = 0) -> list[bytes]:
    """Role chunk, one chunk per piece (with a logprob entry each if ``lp``), finish chunk."""
    return [
        chunk(choice(i, role="assistant", content="")),
        *(chunk(choice(i, lp=[p] if lp else None, content=p)) for p in pieces),
        chunk(choice(i, finish="stop")),
    ]


USAGE = chunk(usage={"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
SECRET = ["The se", "cret co", "de is 42."]

Factory = Callable[[], ScriptedFilter]
Rewriter = Callable[[ScriptedFilter, Mapping[str, Any]], StreamRewriter]


def drive(rw: StreamRewriter, parts: list[bytes]) -> bytes:
    """Feed ``parts`` until the rewriter finishes, then flush."""
    out = b""
    for part in parts:
        if rw.finished:
            break
        out += rw.feed(part)
    return out + rw.flush()


def run(
    stream: bytes,
    guard: Factory = ScriptedFilter,
    request: Mapping[str, Any] | None = None,
    rewriter: Rewriter | None = None,
) -> tuple[bytes, bool]:
    """Rewrite whole, byte by byte and split at every byte: all must give the same bytes."""
    make = rewriter or OpenAIChat().stream_rewriter
    req = request or {"stream": True}
    rw = make(guard(), req)
    whole = drive(rw, [stream])
    assert drive(make(guard(), req), [stream[k : k + 1] for k in range(len(stream))]) == whole
    for cut in range(1, len(stream)):
        assert drive(make(guard(), req), [stream[:cut], stream[cut:]]) == whole, cut
    return whole, rw.finished


def events(out: bytes) -> list[Any]:
    """The JSON objects (or ``"[DONE]"``) the client receives."""
    dec = SseDecoder()
    found = dec.feed(out) + dec.flush()
    return [e.data if e.data == "[DONE]" else orjson.loads(e.data or "") for e in found if e.data]


def texts(out: bytes, field: str = "content") -> dict[int, str]:
    """Text received per choice index in the delta ``field``."""
    got: dict[int, str] = {}
    for obj in events(out):
        for c in obj.get("choices", ()) if isinstance(obj, dict) else ():
            got[c["index"]] = got.get(c["index"], "") + (c["delta"].get(field) or "")
    return got


def tokens(out: bytes) -> list[str]:
    """Every logprob token the client receives."""
    return [
        e["token"]
        for obj in events(out)
        if isinstance(obj, dict)
        for c in obj["choices"]
        for e in ((c.get("logprobs") or {}).get("content") or [])
    ]


def validate(out: bytes) -> None:
    """The official SDK accepts every chunk."""
    for obj in events(out):
        if isinstance(obj, dict) and "error" not in obj:
            ChatCompletionChunk.model_validate(obj)


def test_clean_stream_is_byte_identical() -> None:
    """Without findings the client gets upstream's exact bytes, comments and usage included."""
    trailer = chunk({"index": 0, "delta": {}, "finish_reason": None, "content_filter_results": {}})
    stream = b"".join(
        [KEEPALIVE, *text_stream(["Hello", ", world"], lp=True), trailer, USAGE, KEEPALIVE, DONE]
    )
    out, finished = run(stream, request={"stream": True, "logprobs": True})
    assert out == stream
    assert not finished


@pytest.mark.parametrize("lp", [False, True])
def test_held_text_is_released_before_finish(lp: bool) -> None:
    """Text held by the filter comes out in a chunk before the finish chunk, logprobs after it."""
    stream = b"".join([*text_stream(["Hello", ", wor", "ld"], lp=lp), DONE])
    out, _ = run(stream, lambda: ScriptedFilter(hold=4), {"stream": True, "logprobs": lp})
    objs = events(out)
    assert texts(out) == {0: "Hello, world"}
    finish = next(n for n, o in enumerate(objs) if o["choices"][0]["finish_reason"] == "stop")
    assert "".join(o["choices"][0]["delta"].get("content") or "" for o in objs[finish:-1]) == ""
    assert objs[finish - 1]["choices"][0]["delta"] == {"content": "orld"}
    assert tokens(out) == (["Hello", ", wor", "ld"] if lp else [])
    assert out.endswith(DONE)
    validate(out)


def test_block_ends_stream_without_leaking() -> None:
    """A block ends the choice with content_filter and [DONE]; nothing after it leaks."""
    stream = b"".join([*text_stream(SECRET, lp=True), USAGE, DONE])
    out, finished = run(stream, lambda: ScriptedFilter(block="secret", hold=6), {"logprobs": True})
    assert finished
    assert texts(out) == {0: "The "}
    for leak in (b"se", b"cret", b"code", b"42"):
        assert leak not in out.replace(b"chatcmpl", b"")
    assert tokens(out) == []  # "The se" ends past the released "The "
    last = events(out)[-2]
    assert last["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "content_filter"}
    ]
    assert last["copyguard"] == {"findings": [{"stream": "0", "action": "block"}]}
    assert out.endswith(DONE)
    validate(out)


BLOCKED = b"".join([KEEPALIVE, *text_stream(SECRET, lp=True), USAGE, DONE])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(BLOCKED)), max_size=20))
def test_any_split_gives_the_same_bytes(cuts: list[int]) -> None:
    """However upstream bytes are split, the client receives the same bytes."""

    def rewrite(parts: list[bytes]) -> bytes:
        guard = ScriptedFilter(block="secret", hold=6)
        return drive(OpenAIChat().stream_rewriter(guard, {"logprobs": True}), parts)

    points = [0, *sorted(cuts), len(BLOCKED)]
    parts = [BLOCKED[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert rewrite(parts) == rewrite([BLOCKED])


def test_redaction_rewrites_text_and_trims_logprobs() -> None:
    """Redacted text is re-encoded; logprobs stop where the text diverged; report attached."""
    pieces = ["The ", "secret", " code"]
    stream = b"".join([*text_stream(pieces, lp=True), USAGE, DONE])
    out, finished = run(stream, lambda: ScriptedFilter(redact="secret", hold=6), {"logprobs": True})
    assert not finished
    assert texts(out) == {0: "The […] code"}
    assert tokens(out) == ["The "]
    objs = events(out)
    assert objs[-2]["choices"] == [] and "copyguard" in objs[-2]  # usage chunk
    assert "copyguard" in next(o for o in objs if o["choices"] and o["choices"][0]["finish_reason"])
    validate(out)


def test_two_choices_are_independent() -> None:
    """Blocking choice 1 ends only choice 1; choice 0 runs to its end, then [DONE]."""
    stream = b"".join(
        [
            chunk(choice(0, content="Fine "), choice(1, content="The se")),
            chunk(choice(1, content="cret!")),
            chunk(choice(0, content="text"), choice(1, content="more")),
            chunk(choice(0, finish="stop"), choice(1, finish="stop")),
            USAGE,
            DONE,
        ]
    )
    out, finished = run(stream, lambda: ScriptedFilter(block="secret", hold=6), {"n": 2})
    assert texts(out) == {0: "Fine text", 1: "The "}
    assert b"more" not in out and b"cret" not in out
    finishes = [(c["index"], c["finish_reason"]) for o in events(out)[:-1] for c in o["choices"]]
    assert [f for f in finishes if f[1]] == [(1, "content_filter"), (0, "stop")]
    assert finished and out.endswith(DONE)
    validate(out)


def test_tool_call_arguments_are_filtered() -> None:
    """Tool-call arguments are their own stream: redacted there, name and id untouched."""
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    first = {**call, "function": {"name": "f", "arguments": ""}}
    stream = b"".join(
        [
            chunk(choice(role="assistant", tool_calls=[first])),
            chunk(choice(tool_calls=[{"index": 0, "function": {"arguments": '{"q": "sec'}}])),
            chunk(choice(tool_calls=[{"index": 0, "function": {"arguments": 'ret"}'}}])),
            chunk(choice(finish="tool_calls")),
            DONE,
        ]
    )
    out, _ = run(stream, lambda: ScriptedFilter(redact="secret", hold=3))
    args = "".join(
        (tc.get("function") or {}).get("arguments") or ""
        for o in events(out)[:-1]
        for tc in o["choices"][0]["delta"].get("tool_calls") or []
    )
    assert args == '{"q": "[…]"}'
    assert b'"id":"call_1"' in out and b'"name":"f"' in out
    validate(out)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "refusal"])
def test_reasoning_and_refusal_streams(field: str) -> None:
    """Reasoning and refusal text is filtered and settled in its own field."""
    stream = b"".join(
        [chunk(choice(0, None, None, **{field: p})) for p in ["One ", "secret ", "two"]]
        + [chunk(choice(content="Answer")), chunk(choice(finish="stop")), DONE]
    )
    out, _ = run(stream, lambda: ScriptedFilter(redact="secret", hold=2))
    assert texts(out, field) == {0: "One […] two"}
    assert texts(out) == {0: "Answer"}
    validate(out)


def test_both_reasoning_names_are_one_stream() -> None:
    """A server sending reasoning_content and reasoning with the same text pushes it once."""
    stream = chunk(choice(reasoning_content="a secret", reasoning="a secret")) + DONE
    guard = ScriptedFilter(redact="secret")
    rw = OpenAIChat().stream_rewriter(guard, {})
    out = rw.feed(stream) + rw.flush()
    assert texts(out, "reasoning_content") == texts(out, "reasoning") == {0: "a […]"}
    assert [e for e in guard.events if e[0] == "push"] == [("push", "0/reasoning", "a secret")]


def test_upstream_eof_without_done_settles() -> None:
    """A stream that just ends still gets its held text."""
    stream = b"".join(text_stream(["Hello", " world"])[:-1])
    out, _ = run(stream, lambda: ScriptedFilter(hold=5))
    assert texts(out) == {0: "Hello world"}


def test_text_after_finish_is_dropped() -> None:
    """A finished choice's streams are closed: later text for it is not sent."""
    stream = b"".join([*text_stream(["Hi"]), chunk(choice(content="late")), DONE])
    out, _ = run(stream)
    assert texts(out) == {0: "Hi"} and b"late" not in out


def test_malformed_json_raises() -> None:
    """A data event that is not JSON is a DialectError."""
    rw = OpenAIChat().stream_rewriter(ScriptedFilter(), {})
    with pytest.raises(DialectError):
        rw.feed(b'data: {"choices": [\n\n')


def test_fail_settles_then_errors() -> None:
    """fail() sends the safe held text, an error event and [DONE]."""
    rw = OpenAIChat().stream_rewriter(ScriptedFilter(hold=3), {})
    out = rw.feed(b"".join(text_stream(["Hello"])[:2]))
    out += rw.fail("upstream timed out")
    objs = events(out)
    assert texts(out) == {0: "Hello"}
    assert objs[-2] == {
        "error": {"message": "upstream timed out", "type": "upstream_error", "code": None}
    }
    assert objs[-1] == "[DONE]" and rw.finished
    assert rw.feed(b"data: {}\n\n") == b"" and rw.flush() == b""


def body(content: str, lp: list[str] | None = None, **message: Any) -> bytes:
    """A non-streamed chat.completion."""
    logprobs: dict[str, Any] | None = None
    if lp is not None:
        entries: list[dict[str, Any]] = [
            {"token": t, "logprob": -1.0, "bytes": None, "top_logprobs": []} for t in lp
        ]
        logprobs = {"content": entries, "refusal": None}
    msg = {"role": "assistant", "content": content, **message}
    ch = {"index": 0, "message": msg, "logprobs": logprobs, "finish_reason": "stop"}
    return orjson.dumps({**HEAD, "object": "chat.completion", "choices": [ch]})


@pytest.mark.parametrize(
    ("guard", "content", "finish", "lp"),
    [
        (ScriptedFilter(redact="secret"), "The […] code", "stop", ["The "]),
        (ScriptedFilter(block="secret"), "The ", "content_filter", ["The "]),
    ],
)
def test_rewrite_body(guard: ScriptedFilter, content: str, finish: str, lp: list[str]) -> None:
    """Non-streamed bodies: text filtered, finish reason, logprobs trimmed, report attached."""
    out = orjson.loads(OpenAIChat().rewrite_body(body("The secret code", lp=SECRET_LP), guard))
    ChatCompletion.model_validate(out)
    c = out["choices"][0]
    assert c["message"]["content"] == content and c["finish_reason"] == finish
    assert [e["token"] for e in c["logprobs"]["content"]] == lp
    assert "copyguard" in out


SECRET_LP = ["The ", "secret", " code"]


def test_rewrite_body_tool_arguments() -> None:
    """Tool-call arguments in a message are filtered under key 0/tool/j."""
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '"secret"'}},
    ]
    guard = ScriptedFilter(redact="secret")
    out = orjson.loads(OpenAIChat().rewrite_body(body("", tool_calls=calls), guard))
    got = [tc["function"]["arguments"] for tc in out["choices"][0]["message"]["tool_calls"]]
    assert got == ["{}", '"[…]"']
    assert "0/tool/1" in guard.streams


@pytest.mark.parametrize("raw", [body("Hello", lp=["Hello"]), b'{"error": {"message": "x"}}'])
def test_rewrite_body_unchanged_is_same_object(raw: bytes) -> None:
    """An untouched body is returned as the very same bytes object."""
    assert OpenAIChat().rewrite_body(raw, ScriptedFilter()) is raw


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'{"choices": [{"index": 0}]}'])
def test_rewrite_body_rejects_bad_bodies(raw: bytes) -> None:
    """Bodies that are not chat completions raise DialectError."""
    with pytest.raises(DialectError):
        OpenAIChat().rewrite_body(raw, ScriptedFilter())


@pytest.mark.parametrize(
    ("request_", "expected"),
    [({}, False), ({"stream": True}, True), ({"stream": False}, False), ({"stream": None}, False)],
)
def test_wants_stream(request_: dict[str, Any], expected: bool) -> None:
    """stream is read as a boolean, absent or null meaning no."""
    assert OpenAIChat().wants_stream(request_) is expected


@pytest.mark.parametrize("value", ["yes", 1, [True]])
def test_wants_stream_rejects_non_bool(value: Any) -> None:
    """A non-boolean stream flag is a DialectError."""
    with pytest.raises(DialectError):
        OpenAIChat().wants_stream({"stream": value})


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (413, "request_too_large"),
        (502, "upstream_error"),
        (504, "upstream_error"),
        (500, "api_error"),
    ],
)
def test_error_body(status: int, kind: str) -> None:
    """Errors have OpenAI's shape with a type derived from the status."""
    assert orjson.loads(OpenAIChat().error_body(status, "boom")) == {
        "error": {"message": "boom", "type": kind, "param": None, "code": None}
    }


@pytest.mark.parametrize(
    "extra",
    [
        b'event: custom\ndata: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"BLOCKME now"},"finish_reason":null}]}\n\n',
        b'data: [DONE]\n\ndata: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"BLOCKME late"},"finish_reason":null}]}\n\n',
    ],
    ids=["named-event", "after-done"],
)
def test_no_event_smuggles_text_past_the_guard(extra: bytes) -> None:
    """Text in named events or after [DONE] is guarded or dropped, never forwarded raw."""
    from proxy.dialects.openai_chat import OpenAIChat
    from tests.fakes import ScriptedFilter

    rewriter = OpenAIChat().stream_rewriter(ScriptedFilter(block="BLOCKME"), {"stream": True})
    out = rewriter.feed(extra) + rewriter.flush()
    assert b"BLOCKME" not in out
