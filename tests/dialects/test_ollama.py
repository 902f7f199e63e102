"""Ollama chat and generate dialects: NDJSON streams and bodies through a ScriptedFilter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ollama import ChatResponse, GenerateResponse

from proxy.dialects.base import DialectError
from proxy.dialects.ollama import OllamaChat, OllamaGenerate
from tests.fakes import ScriptedFilter

CHAT = OllamaChat()
GENERATE = OllamaGenerate()
HEAD = {"model": "llama3.2", "created_at": "2025-05-27T22:54:57.641643Z"}
STATS = {
    "total_duration": 4883583458,
    "load_duration": 1334875,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 342546000,
    "eval_count": 282,
    "eval_duration": 4535599000,
}


def line(obj: dict[str, Any]) -> bytes:
    """One line as Ollama writes it (json.dumps spacing, unlike our orjson re-encoding)."""
    return json.dumps(obj).encode() + b"\n"


def chat(*parts: str | dict[str, Any], done_reason: str = "stop") -> bytes:
    """A chat stream: one line per content string (or message dict), then the done line."""
    out = b""
    for part in parts:
        message = {"role": "assistant", "content": part} if isinstance(part, str) else part
        out += line({**HEAD, "message": {"role": "assistant", **message}, "done": False})
    done = {"role": "assistant", "content": ""}
    return out + line({**HEAD, "message": done, "done": True, "done_reason": done_reason, **STATS})


def generate(*parts: str | dict[str, Any]) -> bytes:
    """A generate stream: one line per response string (or fields), then the done line."""
    out = b""
    for part in parts:
        fields = {"response": part} if isinstance(part, str) else part
        out += line({**HEAD, **fields, "done": False})
    final = {"response": "", "done": True, "done_reason": "stop", "context": [1, 2, 3]}
    return out + line({**HEAD, **final, **STATS})


CHAT_TEXT = chat("Hello", ", the secret", " word is", " here.")
CHAT_THINK = chat(
    {"content": "", "thinking": "Let me think"},
    {"content": "", "thinking": " about secret things."},
    "The answer",
    " is 42.",
)
CHAT_TOOL = chat(
    "Let me look.",
    {
        "content": "",
        "tool_calls": [{"function": {"name": "search", "arguments": {"q": "secret sauce"}}}],
    },
    done_reason="stop",
)
GEN_TEXT = generate("The sky", " is blue, ", "a secret", " color.")
GEN_THINK = generate({"response": "", "thinking": "Hmm secret"}, "Blue.")
STREAMS = [
    (CHAT, CHAT_TEXT),
    (CHAT, CHAT_THINK),
    (CHAT, CHAT_TOOL),
    (GENERATE, GEN_TEXT),
    (GENERATE, GEN_THINK),
]
STREAM_IDS = ["chat", "chat-thinking", "chat-tool", "generate", "generate-thinking"]
Dialect = OllamaChat | OllamaGenerate


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """The whole stream, byte by byte, and split in two at every boundary."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def run(dialect: Dialect, data: bytes | list[bytes], guard: ScriptedFilter) -> bytes:
    rewriter = dialect.stream_rewriter(guard, {})
    chunks = [data] if isinstance(data, bytes) else data
    return b"".join(rewriter.feed(c) for c in chunks) + rewriter.flush()


def lines(dialect: Dialect, out: bytes) -> list[dict[str, Any]]:
    """The client's lines, each checked against the ollama SDK's response type."""
    assert out.endswith(b"\n")
    parsed = [orjson.loads(raw) for raw in out.splitlines()]
    for obj in parsed:
        if "error" not in obj:
            model = ChatResponse if dialect is CHAT else GenerateResponse
            model.model_validate(obj)
    return parsed


def text(dialect: Dialect, out: bytes, field: str = "content") -> str:
    """What a client concatenates from the stream."""
    parsed = lines(dialect, out)
    if dialect is CHAT:
        return "".join(obj["message"].get(field, "") for obj in parsed if "message" in obj)
    field = "response" if field == "content" else field
    return "".join(obj.get(field, "") for obj in parsed)


@pytest.mark.parametrize(("dialect", "data"), STREAMS, ids=STREAM_IDS)
def test_clean_stream_is_byte_identical_however_split(dialect: Dialect, data: bytes) -> None:
    """A stream the guard leaves alone reaches the client byte for byte, split anywhere."""
    for chunks in chunkings(data):
        assert run(dialect, chunks, ScriptedFilter()) == data


@pytest.mark.parametrize(("dialect", "data"), STREAMS, ids=STREAM_IDS)
@pytest.mark.parametrize(
    ("block", "redact", "hold"), [(None, None, 4), ("secret", None, 0), (None, "secret", 3)]
)
def test_output_does_not_depend_on_splits(
    dialect: Dialect, data: bytes, block: str | None, redact: str | None, hold: int
) -> None:
    """Rewritten streams are the same bytes whichever way upstream split them."""
    whole = run(dialect, data, ScriptedFilter(block, redact, hold))
    for chunks in chunkings(data):
        assert run(dialect, chunks, ScriptedFilter(block, redact, hold)) == whole


@given(st.lists(st.integers(min_value=0, max_value=len(GEN_TEXT)), max_size=12))
def test_random_splits_with_redaction(cuts: list[int]) -> None:
    """Any number of splits gives the same redacted stream."""
    points = sorted(set(cuts))
    chunks = [GEN_TEXT[a:b] for a, b in zip([0, *points], [*points, len(GEN_TEXT)], strict=True)]
    expected = run(GENERATE, GEN_TEXT, ScriptedFilter(redact="secret", hold=3))
    assert run(GENERATE, chunks, ScriptedFilter(redact="secret", hold=3)) == expected


@pytest.mark.parametrize(
    ("dialect", "data", "tail"),
    [(CHAT, CHAT_TEXT, "ere."), (GENERATE, GEN_TEXT, "lor.")],
    ids=["chat", "generate"],
)
def test_held_text_goes_into_the_done_line(dialect: Dialect, data: bytes, tail: str) -> None:
    """Text held at the end arrives in the done line; unchanged output keeps context."""
    out = run(dialect, data, ScriptedFilter(hold=4))
    done = lines(dialect, out)[-1]
    assert done["done"] is True and done["done_reason"] == "stop"
    assert (done["message"]["content"] if dialect is CHAT else done["response"]) == tail
    assert text(dialect, out) == text(dialect, data)
    assert {k: done[k] for k in STATS} == STATS
    assert "copyguard" not in done
    assert done.get("context") == (None if dialect is CHAT else [1, 2, 3])


def test_generate_held_tail_and_fully_held_lines() -> None:
    """Fully held lines are still sent with an empty response; the tail ends the stream."""
    parsed = lines(GENERATE, run(GENERATE, GEN_TEXT, ScriptedFilter(hold=100)))
    assert [obj["response"] for obj in parsed] == [
        "",
        "",
        "",
        "",
        "The sky is blue, a secret color.",
    ]


@pytest.mark.parametrize(("dialect", "data"), STREAMS, ids=STREAM_IDS)
def test_block_ends_with_content_filter(dialect: Dialect, data: bytes) -> None:
    """A block sends the safe text, then a content_filter done line; the rest is dropped."""
    guard = ScriptedFilter(block="secret")
    rewriter = dialect.stream_rewriter(guard, {})
    out = rewriter.feed(data)
    assert rewriter.finished
    assert rewriter.feed(data) == b"" and rewriter.flush() == b""
    assert b"secret" not in out
    parsed = lines(dialect, out)
    done = parsed[-1]
    assert [obj["done"] for obj in parsed].count(True) == 1
    assert done["done_reason"] == "content_filter"
    assert done["copyguard"] == guard.report() and done["copyguard"]["findings"]
    assert "context" not in done
    assert done["model"] == "llama3.2" and done["created_at"] == HEAD["created_at"]


def test_block_split_across_lines_releases_safe_prefix() -> None:
    """Text before a blocked word split over lines is sent; the word never is."""
    out = run(CHAT, chat("Say sec", "ret now"), ScriptedFilter(block="secret", hold=6))
    assert b"sec" not in out and b"ret" not in out
    assert text(CHAT, out) == "Say "


def test_block_on_done_line_marks_it_content_filter() -> None:
    """A block found while closing at the done line turns that line into the filtered end."""
    data = line({**HEAD, "response": "The ", "done": False}) + line(
        {**HEAD, "response": "secret", "done": True, "done_reason": "stop", **STATS}
    )
    guard = ScriptedFilter(block="secret", hold=20)
    parsed = lines(GENERATE, run(GENERATE, data, guard))
    assert [obj["response"] for obj in parsed] == ["", "The "]
    assert parsed[-1]["done_reason"] == "content_filter" and "context" not in parsed[-1]
    assert parsed[-1]["eval_count"] == STATS["eval_count"]


@pytest.mark.parametrize(("dialect", "data"), [STREAMS[0], STREAMS[3]], ids=["chat", "generate"])
def test_redaction_rewrites_text_and_drops_context(dialect: Dialect, data: bytes) -> None:
    """Redacted text is rewritten, the done line reports it and loses context."""
    guard = ScriptedFilter(redact="secret", hold=3)
    out = run(dialect, data, guard)
    assert b"secret" not in out
    assert text(dialect, out) == text(dialect, data).replace("secret", "[…]")
    done = lines(dialect, out)[-1]
    assert done["copyguard"] == guard.report() and done["done_reason"] == "stop"
    assert "context" not in done


def test_thinking_and_content_have_independent_keys() -> None:
    """Thinking and content are separate streams, both closed at the done line."""
    guard = ScriptedFilter(hold=3)
    out = run(CHAT, CHAT_THINK, guard)
    assert [k for op, k, _ in guard.events if op == "close"] == ["0/thinking", "0"]
    assert text(CHAT, out, "thinking") == "Let me think about secret things."
    assert text(CHAT, out) == "The answer is 42."
    assert lines(CHAT, out)[-1]["message"]["thinking"] == "gs."


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        (ScriptedFilter(redact="secret"), [{"q": "[…] sauce"}]),
        (ScriptedFilter(redact='"q"'), []),  # no longer JSON: dropped
        (ScriptedFilter(block="secret"), []),
    ],
    ids=["redact", "unparsable", "block"],
)
def test_tool_call_arguments(guard: ScriptedFilter, expected: list[dict[str, Any]]) -> None:
    """Tool call arguments go through "0/tool/{j}"; blocked or unparsable calls are dropped."""
    out = run(CHAT, CHAT_TOOL, guard)
    assert ("0/tool/0" in guard.streams) and b"secret" not in out
    calls = [c for obj in lines(CHAT, out) for c in obj["message"].get("tool_calls", [])]
    assert [c["function"]["arguments"] for c in calls] == expected


def test_logprobs_dropped_from_changed_lines() -> None:
    """Token logprobs would reveal changed text, so changed lines lose them."""
    data = (
        b"".join(
            line({**HEAD, "message": {"role": "assistant", "content": word}, "logprobs": logprobs})
            for word, logprobs in [
                ("a", [{"token": "a", "logprob": -0.1}]),
                (" secret", [{"token": " secret", "logprob": -0.2}]),
            ]
        )
        + chat()
    )
    out = run(CHAT, data, ScriptedFilter(redact="secret"))
    assert b"secret" not in out
    parsed = lines(CHAT, out)
    assert [("logprobs" in obj) for obj in parsed] == [True, False, False]


def test_fail_settles_then_errors() -> None:
    """fail() sends held text in a line of its own, then an error line."""
    rewriter = GENERATE.stream_rewriter(ScriptedFilter(hold=4), {})
    out = rewriter.feed(GEN_TEXT.split(b"\n")[0] + b"\n")
    out += rewriter.fail("upstream timed out")
    assert rewriter.finished and rewriter.fail("again") == b""
    parsed = lines(GENERATE, out)
    assert [obj.get("response") for obj in parsed] == ["The", " sky", None]
    assert parsed[1]["done"] is False
    assert parsed[-1] == {"error": "upstream timed out"}


def test_fail_that_blocks_ends_with_content_filter() -> None:
    """If settling blocks, the stream ends filtered rather than with an error."""
    rewriter = CHAT.stream_rewriter(ScriptedFilter(block="secret", hold=20), {})
    out = rewriter.feed(CHAT_TEXT.split(b"\n")[1] + b"\n") + rewriter.fail("boom")
    assert b"secret" not in out and b"boom" not in out
    assert lines(CHAT, out)[-1]["done_reason"] == "content_filter"


def test_flush_without_done_is_an_error() -> None:
    """A stream that ends early gets its held text, then an error line."""
    data = b"".join(CHAT_TEXT.splitlines(keepends=True)[:2])
    parsed = lines(CHAT, run(CHAT, data, ScriptedFilter(hold=4)))
    assert parsed[-2]["message"]["content"] == "cret"
    assert "done" in parsed[-1]["error"]


def test_upstream_error_line_is_forwarded() -> None:
    """An error line from upstream settles held text and ends the stream."""
    data = CHAT_TEXT.splitlines(keepends=True)[0] + b'{"error": "model crashed"}\n'
    rewriter = CHAT.stream_rewriter(ScriptedFilter(hold=2), {})
    parsed = lines(CHAT, rewriter.feed(data))
    assert rewriter.finished
    assert parsed[-2]["message"]["content"] == "lo" and parsed[-1] == {"error": "model crashed"}


def test_final_line_without_newline_is_handled() -> None:
    """A last line with no newline is processed at flush."""
    assert run(CHAT, CHAT_TEXT[:-1], ScriptedFilter()) == CHAT_TEXT[:-1]


@pytest.mark.parametrize(
    "data",
    [b"{not json\n", b"[1]\n", b'{"message": "text", "done": false}\n', b'{"response": 1}\n'],
    ids=["bad-json", "not-object", "message-not-object", "response-not-string"],
)
def test_malformed_lines_raise(data: bytes) -> None:
    """Lines that are not valid Ollama JSON raise DialectError."""
    dialect = GENERATE if b"response" in data else CHAT
    with pytest.raises(DialectError):
        run(dialect, data, ScriptedFilter())


# Non-streaming bodies

CHAT_BODY = line(
    {
        **HEAD,
        "message": {
            "role": "assistant",
            "content": "Here is the secret.",
            "thinking": "A secret thought.",
            "tool_calls": [{"function": {"name": "search", "arguments": {"q": "secret"}}}],
        },
        "done": True,
        "done_reason": "stop",
        **STATS,
    }
)
GEN_BODY = line(
    {
        **HEAD,
        "response": "Blue is the secret.",
        "done": True,
        "done_reason": "stop",
        "context": [1, 2],
        **STATS,
    }
)


@pytest.mark.parametrize(("dialect", "body"), [(CHAT, CHAT_BODY), (GENERATE, GEN_BODY)])
def test_clean_body_is_returned_as_is(dialect: Dialect, body: bytes) -> None:
    """An untouched body comes back as the very same bytes object."""
    assert dialect.rewrite_body(body, ScriptedFilter(block="zebra", hold=3)) is body


@pytest.mark.parametrize(("dialect", "body"), [(CHAT, CHAT_BODY), (GENERATE, GEN_BODY)])
def test_body_redaction(dialect: Dialect, body: bytes) -> None:
    """All texts are redacted, context is dropped, the report sits at top level."""
    guard = ScriptedFilter(redact="secret")
    out = dialect.rewrite_body(body, guard)
    assert b"secret" not in out
    parsed = orjson.loads(out)
    assert parsed["done_reason"] == "stop" and "context" not in parsed
    assert parsed["copyguard"] == guard.report()
    if dialect is CHAT:
        message = ChatResponse.model_validate(parsed).message
        assert message.content == "Here is the […]." and message.thinking == "A […] thought."
        assert message.tool_calls and message.tool_calls[0].function.arguments == {"q": "[…]"}
    else:
        assert GenerateResponse.model_validate(parsed).response == "Blue is the […]."


def test_body_block() -> None:
    """A block keeps the safe prefix, empties later texts, drops tool calls, content_filter."""
    guard = ScriptedFilter(block="secret")
    parsed = orjson.loads(CHAT.rewrite_body(CHAT_BODY, guard))
    assert b"secret" not in orjson.dumps(parsed)
    message = ChatResponse.model_validate(parsed).message
    assert (message.thinking, message.content, message.tool_calls) == ("A ", "", None)
    assert parsed["done_reason"] == "content_filter" and parsed["copyguard"]["findings"]


@pytest.mark.parametrize(("dialect", "body"), [(CHAT, b"{"), (GENERATE, b"[]")])
def test_malformed_body_raises(dialect: Dialect, body: bytes) -> None:
    """A body that is not a JSON object raises DialectError."""
    with pytest.raises(DialectError):
        dialect.rewrite_body(body, ScriptedFilter())


@pytest.mark.parametrize("dialect", [CHAT, GENERATE])
def test_error_body(dialect: Dialect) -> None:
    """Errors are {"error": message}, and upstream ones pass through untouched."""
    body = dialect.error_body(502, "upstream down")
    assert orjson.loads(body) == {"error": "upstream down"}
    assert dialect.rewrite_body(body, ScriptedFilter()) is body


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [({}, True), ({"stream": None}, True), ({"stream": True}, True), ({"stream": False}, False)],
)
def test_wants_stream(request_body: dict[str, Any], expected: bool) -> None:
    """Ollama streams by default."""
    assert CHAT.wants_stream(request_body) is expected
    assert GENERATE.wants_stream(request_body) is expected


def test_wants_stream_rejects_non_bool() -> None:
    """A non-boolean "stream" is a DialectError."""
    with pytest.raises(DialectError):
        GENERATE.wants_stream({"stream": 0})
