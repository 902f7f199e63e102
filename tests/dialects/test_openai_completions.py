"""Tests for the OpenAI legacy Completions dialect, driven by realistic upstream byte streams."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types import Completion

from proxy.dialects.base import DialectError
from proxy.dialects.openai_completions import OpenAICompletions
from tests.dialects.test_openai_chat import DONE, KEEPALIVE, Factory, events, run
from tests.fakes import ScriptedFilter

HEAD = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m"}
REWRITER = OpenAICompletions().stream_rewriter


def chunk(*choices: dict[str, Any], **extra: Any) -> bytes:
    """One upstream SSE event carrying ``choices``."""
    return b"data: " + orjson.dumps({**HEAD, "choices": list(choices), **extra}) + b"\n\n"


def logprobs(tokens: list[str], start: int) -> dict[str, Any]:
    """The four parallel logprob lists for ``tokens`` starting at text offset ``start``."""
    offsets = [start + sum(len(t) for t in tokens[:k]) for k in range(len(tokens))]
    return {
        "tokens": tokens,
        "token_logprobs": [-0.25] * len(tokens),
        "top_logprobs": [{t: -0.25} for t in tokens],
        "text_offset": offsets,
    }


def stream(pieces: list[str], lp: bool = False, i: int = 0, finish: str = "stop") -> list[bytes]:
    """One chunk per piece, then a finish chunk with empty text (as OpenAI sends it)."""
    out, pos = [], 0
    for p in pieces:
        lps = logprobs([p], pos) if lp else None
        out.append(chunk({"text": p, "index": i, "logprobs": lps, "finish_reason": None}))
        pos += len(p)
    out.append(chunk({"text": "", "index": i, "logprobs": None, "finish_reason": finish}))
    return out


def run_completions(
    data: bytes, guard: Factory = ScriptedFilter, request: dict[str, Any] | None = None
) -> tuple[bytes, bool]:
    """Rewrite ``data`` whole and split at every byte (see ``run``)."""
    return run(data, guard, request or {"stream": True}, REWRITER)


def texts(out: bytes) -> dict[int, str]:
    """Text received per choice index."""
    got: dict[int, str] = {}
    for obj in events(out):
        for c in obj.get("choices", ()) if isinstance(obj, dict) else ():
            got[c["index"]] = got.get(c["index"], "") + c["text"]
    return got


def tokens(out: bytes) -> list[str]:
    """Every logprob token the client receives."""
    return [
        t
        for obj in events(out)
        if isinstance(obj, dict)
        for c in obj.get("choices", ())
        for t in (c.get("logprobs") or {}).get("tokens") or []
    ]


def validate(out: bytes) -> None:
    """The official SDK accepts every chunk.

    Its ``CompletionChoice`` requires a finish reason although the API streams ``null`` in
    all but the last chunk, so those are checked with the reason filled in.
    """
    for obj in events(out):
        if isinstance(obj, dict) and "error" not in obj:
            for c in obj["choices"]:
                c["finish_reason"] = c["finish_reason"] or "stop"
            Completion.model_validate(obj)


USAGE = chunk(usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})


def test_clean_stream_is_byte_identical() -> None:
    """Without findings the client gets upstream's exact bytes."""
    data = b"".join([KEEPALIVE, *stream(["Once", " upon", " a time"], lp=True), USAGE, DONE])
    out, finished = run_completions(data, request={"stream": True, "logprobs": 0})
    assert out == data and not finished


@pytest.mark.parametrize(
    ("guard", "text", "toks", "finish"),
    [
        (lambda: ScriptedFilter(hold=3), "The secret code", ["The ", "secret", " code"], "stop"),
        (lambda: ScriptedFilter(redact="secret", hold=6), "The […] code", ["The "], "stop"),
        (lambda: ScriptedFilter(block="secret", hold=6), "The ", ["The "], "content_filter"),
    ],
)
def test_filtered_streams(guard: Factory, text: str, toks: list[str], finish: str) -> None:
    """Held, redacted and blocked text; logprobs only for text the client has."""
    data = b"".join([*stream(["The ", "secret", " code"], lp=True), USAGE, DONE])
    out, finished = run_completions(data, guard, {"stream": True, "logprobs": 1})
    assert texts(out) == {0: text}
    assert tokens(out) == toks
    finishes = [c["finish_reason"] for o in events(out)[:-1] for c in o["choices"]]
    assert [f for f in finishes if f] == [finish]
    assert finished is (finish == "content_filter")
    assert out.endswith(DONE)
    if finish == "content_filter":
        assert b"secret" not in out and b"code" not in out and b"usage" not in out
    validate(out)


def test_text_in_finish_chunk_gets_held_text_appended() -> None:
    """When the finish chunk carries text, held text is appended to it, not sent after it."""
    data = b"".join(
        [
            chunk({"text": "Hello", "index": 0, "logprobs": None, "finish_reason": None}),
            chunk({"text": " world", "index": 0, "logprobs": None, "finish_reason": "length"}),
            DONE,
        ]
    )
    out, _ = run_completions(data, lambda: ScriptedFilter(hold=4))
    objs = events(out)
    assert [c["text"] for o in objs[:-1] for c in o["choices"]] == ["H", "ello world"]
    assert objs[1]["choices"][0]["finish_reason"] == "length"


def test_two_choices_block_one() -> None:
    """Blocking choice 0 leaves choice 1 running; [DONE] comes once both ended."""
    data = b"".join(
        [
            chunk({"text": "a secret", "index": 0, "logprobs": None, "finish_reason": None}),
            chunk({"text": "fine", "index": 1, "logprobs": None, "finish_reason": None}),
            chunk({"text": " more", "index": 0, "logprobs": None, "finish_reason": None}),
            chunk({"text": " too", "index": 1, "logprobs": None, "finish_reason": "stop"}),
            chunk({"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}),
            DONE,
        ]
    )
    out, finished = run_completions(data, lambda: ScriptedFilter(block="secret"), {"n": 2})
    assert texts(out) == {0: "a ", 1: "fine too"}
    assert finished and b"more" not in out
    validate(out)


def test_malformed_json_raises() -> None:
    """A data event that is not JSON is a DialectError."""
    with pytest.raises(DialectError):
        REWRITER(ScriptedFilter(), {}).feed(b"data: {oops}\n\n")


def test_fail_settles_then_errors() -> None:
    """fail() releases the safe held text, then an error event and [DONE]."""
    rw = REWRITER(ScriptedFilter(hold=10), {})
    out = rw.feed(stream(["partial"])[0]) + rw.fail("reset by peer")
    assert texts(out) == {0: "partial"}
    assert events(out)[-2]["error"]["message"] == "reset by peer"
    assert events(out)[-1] == "[DONE]" and rw.finished


def body(text: str, lp: bool = True) -> bytes:
    """A non-streamed text_completion."""
    toks = ["The ", "secret", " code"] if text == "The secret code" else [text]
    ch = {"text": text, "index": 0, "logprobs": logprobs(toks, 0) if lp else None}
    return orjson.dumps({**HEAD, "choices": [{**ch, "finish_reason": "stop"}]})


@pytest.mark.parametrize(
    ("guard", "text", "toks", "finish"),
    [
        (ScriptedFilter(redact="secret"), "The […] code", ["The "], "stop"),
        (ScriptedFilter(block="secret"), "The ", ["The "], "content_filter"),
    ],
)
def test_rewrite_body(guard: ScriptedFilter, text: str, toks: list[str], finish: str) -> None:
    """Non-streamed bodies: text filtered, finish reason, parallel logprob lists trimmed."""
    out = orjson.loads(OpenAICompletions().rewrite_body(body("The secret code"), guard))
    Completion.model_validate(out)
    c = out["choices"][0]
    assert (c["text"], c["finish_reason"]) == (text, finish)
    assert c["logprobs"]["tokens"] == toks and len(c["logprobs"]["text_offset"]) == len(toks)
    assert "copyguard" in out


def test_rewrite_body_unchanged_is_same_object() -> None:
    """An untouched body is returned as the very same bytes object."""
    raw = body("Hello")
    assert OpenAICompletions().rewrite_body(raw, ScriptedFilter()) is raw


@pytest.mark.parametrize("raw", [b"null", b"{", b'{"choices": [{"index": 0}]}'])
def test_rewrite_body_rejects_bad_bodies(raw: bytes) -> None:
    """Bodies that are not completions raise DialectError."""
    with pytest.raises(DialectError):
        OpenAICompletions().rewrite_body(raw, ScriptedFilter())


def test_dialect_attributes() -> None:
    """Name, path, media type and the shared stream flag and error shape."""
    d = OpenAICompletions()
    assert (d.name, d.paths, d.stream_media_type) == (
        "openai-completions",
        ("/v1/completions",),
        "text/event-stream",
    )
    assert d.wants_stream({"stream": True}) and not d.wants_stream({})
    assert orjson.loads(d.error_body(413, "too big"))["error"]["type"] == "request_too_large"
