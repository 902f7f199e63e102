"""Anthropic Messages dialect: SSE streams and message bodies through a ScriptedFilter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from proxy.dialects.anthropic import AnthropicMessages
from proxy.dialects.base import DialectError
from proxy.dialects.sse import SseDecoder
from tests.fakes import ScriptedFilter

DIALECT = AnthropicMessages()
EVENTS: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)


def sse(obj: dict[str, Any]) -> bytes:
    """One event as the API writes it (json.dumps spacing, unlike our orjson re-encoding)."""
    return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode()


def start() -> bytes:
    message: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1},
    }
    return sse({"type": "message_start", "message": message}) + sse({"type": "ping"})


BLOCK_KINDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "text": ("text_delta", "text", {"text": ""}),
    "thinking": ("thinking_delta", "thinking", {"thinking": "", "signature": ""}),
    "tool_use": ("input_json_delta", "partial_json", {"id": "toolu_1", "input": {}}),
}


def block(index: int, kind: str, deltas: list[str], **extra: Any) -> bytes:
    """content_block_start, one delta per string, content_block_stop."""
    delta_type, field, initial = BLOCK_KINDS[kind]
    out = sse(
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": kind, **initial, **extra},
        }
    )
    for text in deltas:
        delta = {"type": delta_type, field: text}
        out += sse({"type": "content_block_delta", "index": index, "delta": delta})
    if kind == "thinking":
        delta = {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}
        out += sse({"type": "content_block_delta", "index": index, "delta": delta})
    return out + sse({"type": "content_block_stop", "index": index})


def end(stop_reason: str = "end_turn") -> bytes:
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    message_delta = {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 15}}
    return sse(message_delta) + sse({"type": "message_stop"})


TEXT = start() + block(0, "text", ["Hello", ", the secret", " word is", " here."]) + end()
TWO = (
    start()
    + block(0, "thinking", ["Let me ", "think about secret", " things."])
    + block(1, "text", ["The answer", " is 42."])
    + end()
)
TOOL = (
    start()
    + block(0, "text", ["Let me look."])
    + block(1, "tool_use", ['{"query": "the', " secret", ' recipe"}'], name="search")
    + end("tool_use")
)


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """The whole stream, byte by byte, and split in two at every boundary."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def run(data: bytes | list[bytes], guard: ScriptedFilter) -> bytes:
    rewriter = DIALECT.stream_rewriter(guard, {"stream": True})
    chunks = [data] if isinstance(data, bytes) else data
    return b"".join(rewriter.feed(c) for c in chunks) + rewriter.flush()


def events(out: bytes) -> list[dict[str, Any]]:
    """Decode the client's stream, checking each event against the SDK's types."""
    decoder = SseDecoder()
    parsed = []
    for event in decoder.feed(out) + decoder.flush():
        assert event.data is not None
        obj = orjson.loads(event.data)
        assert event.event == obj["type"]
        if obj["type"] not in ("ping", "error"):
            EVENTS.validate_python(obj)
        parsed.append(obj)
    return parsed


def final(out: bytes) -> Message:
    """The message an SDK client accumulates from the client's stream."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for obj in events(out):
        if obj["type"] not in ("ping", "error"):
            event = EVENTS.validate_python(obj)
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
    assert snapshot is not None
    return Message.model_validate(snapshot.model_dump())


@pytest.mark.parametrize("data", [TEXT, TWO, TOOL], ids=["text", "two-blocks", "tool"])
def test_clean_stream_is_byte_identical_however_split(data: bytes) -> None:
    """A stream the guard leaves alone reaches the client byte for byte, split anywhere."""
    for chunks in chunkings(data):
        assert run(chunks, ScriptedFilter()) == data


@pytest.mark.parametrize(
    ("guard", "data"),
    [
        (ScriptedFilter(hold=4), TEXT),
        (ScriptedFilter(block="secret"), TEXT),
        (ScriptedFilter(redact="secret", hold=2), TWO),
        (ScriptedFilter(block="secret"), TOOL),
    ],
    ids=["hold", "block", "redact", "tool-block"],
)
def test_output_does_not_depend_on_splits(guard: ScriptedFilter, data: bytes) -> None:
    """Rewritten streams are the same bytes whichever way upstream split them."""
    whole = run(data, ScriptedFilter(guard.block, guard.redact, guard.hold))
    for chunks in chunkings(data):
        assert run(chunks, ScriptedFilter(guard.block, guard.redact, guard.hold)) == whole


@given(st.lists(st.integers(min_value=0, max_value=len(TWO)), max_size=12))
def test_random_splits_with_redaction(cuts: list[int]) -> None:
    """Any number of splits gives the same redacted stream."""
    points = sorted(set(cuts))
    chunks = [TWO[a:b] for a, b in zip([0, *points], [*points, len(TWO)], strict=True)]
    expected = run(TWO, ScriptedFilter(redact="secret", hold=3))
    assert run(chunks, ScriptedFilter(redact="secret", hold=3)) == expected


def test_held_text_is_released_before_block_stop() -> None:
    """Text still held at content_block_stop arrives in a synthetic delta just before it."""
    out = run(TEXT, ScriptedFilter(hold=4))
    parsed = events(out)
    stop = next(i for i, e in enumerate(parsed) if e["type"] == "content_block_stop")
    assert parsed[stop - 1]["delta"] == {"type": "text_delta", "text": "ere."}
    message = final(out)
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello, the secret word is here."
    assert message.stop_reason == "end_turn"


def test_fully_held_delta_is_forwarded_empty() -> None:
    """A delta whose whole text is held still reaches the client, with empty text."""
    data = start() + block(0, "text", ["Hi", " there"]) + end()
    deltas = [e for e in events(run(data, ScriptedFilter(hold=10))) if "delta" in e]
    assert [d["delta"].get("text") for d in deltas[:3]] == ["", "", "Hi there"]


@pytest.mark.parametrize("data", [TEXT, TWO, TOOL], ids=["text", "thinking", "tool-input"])
def test_block_ends_in_refusal(data: bytes) -> None:
    """A blocked block is stopped, then message_delta refusal and message_stop; rest dropped."""
    guard = ScriptedFilter(block="secret")
    rewriter = DIALECT.stream_rewriter(guard, {})
    out = rewriter.feed(data)
    assert rewriter.finished
    assert rewriter.feed(end()) == b"" and rewriter.flush() == b""
    assert b"secret" not in out
    parsed = events(out)
    assert [e["type"] for e in parsed[-3:]] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert parsed[-2]["delta"] == {"stop_reason": "refusal", "stop_sequence": None}
    assert parsed[-2]["usage"] == {"output_tokens": 1}
    assert parsed[-2]["copyguard"] == guard.report()
    assert final(out).stop_reason == "refusal"


def test_block_split_across_deltas_releases_safe_prefix() -> None:
    """Text before a blocked word split over deltas is still sent; the word never is."""
    data = start() + block(0, "text", ["Say sec", "ret now"]) + end()
    out = run(data, ScriptedFilter(block="secret", hold=6))
    assert b"secret" not in out and b"ret now" not in out
    assert final(out).content[0].text == "Say "  # type: ignore[union-attr]


def test_redaction_rewrites_text_and_reports() -> None:
    """Redacted text is rewritten in place and message_delta carries the report."""
    guard = ScriptedFilter(redact="secret", hold=3)
    out = run(TWO, guard)
    assert b"secret" not in out
    message = final(out)
    thinking = message.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "Let me think about […] things."
    assert thinking.signature == "EqQBCgIYAhIM"
    assert message.content[1].type == "text" and message.content[1].text == "The answer is 42."
    message_delta = next(e for e in events(out) if e["type"] == "message_delta")
    assert message_delta["copyguard"] == guard.report() == {"findings": []}


def test_blocks_have_independent_keys() -> None:
    """Each block is its own stream, closed at its own content_block_stop."""
    guard = ScriptedFilter(hold=3)
    run(TWO, guard)
    closes = [key for op, key, _ in guard.events if op == "close"]
    assert closes == ["0/thinking", "1"]
    assert guard.released("0/thinking") == "Let me think about secret things."
    assert guard.released("1") == "The answer is 42."


def test_tool_input_is_guarded_and_parses() -> None:
    """input_json_delta goes through key "{index}/input"; redacted input still parses."""
    guard = ScriptedFilter(redact="secret", hold=2)
    out = run(TOOL, guard)
    assert guard.released("1/input") == '{"query": "the […] recipe"}'
    message = final(out)
    tool = message.content[1]
    assert tool.type == "tool_use" and tool.input == {"query": "the […] recipe"}
    assert message.stop_reason == "tool_use"


def test_initial_block_text_is_pushed() -> None:
    """Text inside content_block_start goes through the guard too."""
    data = start() + block(0, "text", [" world"], text="Hello secret") + end()
    del_secret = run(data, ScriptedFilter(redact="secret"))
    assert b"secret" not in del_secret
    assert final(del_secret).content[0].text == "Hello […] world"  # type: ignore[union-attr]


def test_ping_and_unknown_events_pass() -> None:
    """Pings, bare comments and unknown event types are forwarded untouched."""
    extra = b":\n\n" + sse({"type": "ping"}) + sse({"type": "future_event", "x": 1})
    data = start() + extra + block(0, "text", ["Hi"]) + end()
    assert run(data, ScriptedFilter(redact="secret")) == data


def test_fail_settles_then_errors() -> None:
    """fail() releases held text, stops the block and ends with an error event."""
    guard = ScriptedFilter(hold=4)
    rewriter = DIALECT.stream_rewriter(guard, {})
    out = rewriter.feed(start() + block(0, "text", ["Hello there"])[:-40])
    out += rewriter.fail("upstream timed out")
    assert rewriter.finished and rewriter.fail("again") == b""
    parsed = events(out)
    assert [e["type"] for e in parsed[-3:]] == [
        "content_block_delta",
        "content_block_stop",
        "error",
    ]
    assert parsed[-3]["delta"]["text"] == "here"
    assert parsed[-1]["error"] == {"type": "api_error", "message": "upstream timed out"}


def test_fail_that_blocks_ends_in_refusal() -> None:
    """If settling blocks, the stream ends as a refusal rather than an error."""
    rewriter = DIALECT.stream_rewriter(ScriptedFilter(block="secret", hold=20), {})
    out = rewriter.feed(start() + block(0, "text", ["a secret"])[:-40])
    out += rewriter.fail("boom")
    assert b"secret" not in out
    assert [e["type"] for e in events(out)][-2:] == ["message_delta", "message_stop"]


def test_flush_without_message_stop_is_an_error() -> None:
    """A stream that ends early gets its held text, then an error event."""
    data = start() + block(0, "text", ["Hello there"])
    parsed = events(run(data, ScriptedFilter(hold=4)))
    assert parsed[-1]["type"] == "error"
    assert parsed[-2] == {"type": "content_block_stop", "index": 0}
    assert "message_stop" in parsed[-1]["error"]["message"]


@pytest.mark.parametrize(
    "data",
    [
        b"event: content_block_delta\ndata: {not json\n\n",
        b'event: content_block_delta\ndata: ["a list"]\n\n',
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {}}\n\n',
        sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}),
        sse({"type": "content_block_start", "index": 0}),
    ],
    ids=["bad-json", "not-object", "no-index", "no-text", "no-block"],
)
def test_malformed_events_raise(data: bytes) -> None:
    """Events that are not valid Messages JSON raise DialectError."""
    with pytest.raises(DialectError):
        run(data, ScriptedFilter())


def test_stream_ending_inside_event_raises() -> None:
    """flush() inside an unfinished event raises DialectError (from the decoder)."""
    rewriter = DIALECT.stream_rewriter(ScriptedFilter(), {})
    rewriter.feed(start() + b"event: ping\ndata: {")
    with pytest.raises(DialectError):
        rewriter.flush()


# Non-streaming bodies


def message(*content: dict[str, Any], stop_reason: str = "end_turn") -> bytes:
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 40},
    }
    return json.dumps(body).encode()


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "search"}
BODY = message(
    {"type": "thinking", "thinking": "Think of a secret.", "signature": "EqQB"},
    {"type": "text", "text": "Here is the secret answer."},
    {**TOOL_USE, "input": {"q": "secret sauce"}},
    stop_reason="tool_use",
)


def test_clean_body_is_returned_as_is() -> None:
    """An untouched body comes back as the very same bytes object."""
    clean = BODY.replace(b"secret", b"public")
    assert DIALECT.rewrite_body(clean, ScriptedFilter(block="secret")) is clean


def test_body_redaction() -> None:
    """Every text, thinking and tool input is redacted; the report sits at top level."""
    guard = ScriptedFilter(redact="secret", hold=3)
    out = DIALECT.rewrite_body(BODY, guard)
    assert b"secret" not in out
    parsed = Message.model_validate_json(out)
    assert [b.type for b in parsed.content] == ["thinking", "text", "tool_use"]
    assert parsed.content[2].input == {"q": "[…] sauce"}  # type: ignore[union-attr]
    assert parsed.stop_reason == "tool_use"
    assert orjson.loads(out)["copyguard"] == guard.report()
    assert [k for op, k, _ in guard.events if op == "close"] == ["0/thinking", "1", "2/input"]


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        ([{"type": "text", "text": "A secret!"}, {"type": "text", "text": "B"}], [{"text": "A "}]),
        (
            [{"type": "text", "text": "Look"}, {**TOOL_USE, "input": {"q": "secret"}}],
            [{"text": "Look"}, {"input": {}}],
        ),
    ],
    ids=["text", "tool-input"],
)
def test_body_block(content: list[dict[str, Any]], kept: list[dict[str, Any]]) -> None:
    """A blocked block keeps its safe prefix (tool input: {}), later blocks go, refusal."""
    out = DIALECT.rewrite_body(message(*content), ScriptedFilter(block="secret"))
    assert b"secret" not in out
    parsed = orjson.loads(out)
    assert [
        {k: b[k] for k in want} for b, want in zip(parsed["content"], kept, strict=True)
    ] == kept
    assert parsed["stop_reason"] == "refusal"
    assert parsed["copyguard"]["findings"]
    Message.model_validate(parsed)


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1]", b'{"content": "text"}'],
    ids=["bad-json", "not-object", "content-not-list"],
)
def test_malformed_body_raises(body: bytes) -> None:
    """A body that is not a Messages response raises DialectError."""
    with pytest.raises(DialectError):
        DIALECT.rewrite_body(body, ScriptedFilter())


def test_error_body_passes_through() -> None:
    """An upstream error object has no content and is returned unchanged."""
    body = DIALECT.error_body(529, "Overloaded")
    assert DIALECT.rewrite_body(body, ScriptedFilter()) is body


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_body(status: int, kind: str) -> None:
    """Errors use the Messages error shape with the status's error type."""
    assert orjson.loads(DIALECT.error_body(status, "nope")) == {
        "type": "error",
        "error": {"type": kind, "message": "nope"},
    }


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [({}, False), ({"stream": None}, False), ({"stream": False}, False), ({"stream": True}, True)],
)
def test_wants_stream(request_body: dict[str, Any], expected: bool) -> None:
    """Messages streams only when asked to."""
    assert DIALECT.wants_stream(request_body) is expected


def test_wants_stream_rejects_non_bool() -> None:
    """A non-boolean "stream" is a DialectError."""
    with pytest.raises(DialectError):
        DIALECT.wants_stream({"stream": "yes"})
