"""Gemini dialect: SSE and JSON-array streams and whole responses through a ScriptedFilter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from proxy.dialects.base import DialectError, StrayText
from proxy.dialects.gemini import GeminiGenerate, GeminiStream
from tests.fakes import ScriptedFilter

DIALECT = GeminiStream()
Obj = dict[str, Any]


def response(*parts: Obj, finish: str | None = None, index: int = 0, tokens: int = 1) -> Obj:
    """One GenerateContentResponse with one candidate, as the API lays it out."""
    candidate: Obj = {"content": {"parts": list(parts), "role": "model"}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    usage = {"promptTokenCount": 4, "candidatesTokenCount": tokens, "totalTokenCount": 4 + tokens}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5"}


def text(t: str, **extra: Any) -> Obj:
    return {"text": t, **extra}


def sse(objs: list[Obj]) -> bytes:
    return b"".join(b"data: " + json.dumps(o).encode() + b"\r\n\r\n" for o in objs)


def array(objs: list[Obj]) -> bytes:
    return ("[" + "\r\n,\r\n".join(json.dumps(o, indent=2) for o in objs) + "]").encode()


FRAMINGS: dict[str, Callable[[list[Obj]], bytes]] = {"sse": sse, "array": array}
REPLY = [
    response(text("Hello, the "), tokens=1),
    response(text("secret word"), tokens=2),
    response(text(" is here."), finish="STOP", tokens=3),
]


def run(data: bytes, guard: ScriptedFilter, cuts: tuple[int, ...] = ()) -> bytes:
    """Feed ``data`` cut at ``cuts``, then flush."""
    rewriter = DIALECT.stream_rewriter(guard, {}, 1 << 16)
    points = [0, *cuts, len(data)]
    out = b"".join(rewriter.feed(data[a:b]) for a, b in zip(points, points[1:], strict=False))
    out += rewriter.flush()
    assert rewriter.finished and rewriter.flush() == b"" and rewriter.fail("late") == b""
    return out


def parse(out: bytes) -> list[Obj]:
    """What a client reads: the array's elements, or every SSE event's data."""
    if out.startswith(b"["):
        elements: list[Obj] = orjson.loads(out)  # the whole output is one valid JSON array
        return elements
    return [
        orjson.loads(b[len(b"data: ") :]) for b in out.replace(b"\r\n", b"\n").split(b"\n\n") if b
    ]


def texts(objs: list[Obj]) -> dict[str, str]:
    """Text per candidate (``"0"``) and thought (``"0/thought"``), as a client adds it up."""
    out: dict[str, str] = {}
    for obj in objs:
        for c in obj.get("candidates", []):
            for part in c["content"]["parts"]:
                key = f"{c['index']}/thought" if part.get("thought") else str(c["index"])
                out[key] = out.get(key, "") + part.get("text", "")
    return out


def finishes(objs: list[Obj]) -> list[tuple[int, str]]:
    return [(c["index"], c["finishReason"]) for o in objs for c in o.get("candidates", [])
            if "finishReason" in c]  # fmt: skip


@pytest.mark.parametrize("framing", FRAMINGS)
def test_clean_stream_is_forwarded_byte_for_byte_at_every_split(framing: str) -> None:
    """Nothing held: whatever the split, the client gets exactly the upstream bytes."""
    data = FRAMINGS[framing](REPLY)
    for cut in range(len(data) + 1):
        assert run(data, ScriptedFilter(), (cut,)) == data


@pytest.mark.parametrize("framing", FRAMINGS)
def test_held_text_comes_with_the_finish_at_every_split(framing: str) -> None:
    """Held text is released by the event that finishes the candidate, whatever the split."""
    data = FRAMINGS[framing](REPLY)
    whole = run(data, ScriptedFilter(hold=5))
    objs = parse(whole)
    assert texts(objs) == {"0": "Hello, the secret word is here."}
    assert objs[-1]["candidates"][0]["content"]["parts"][-1]["text"].endswith("here.")
    assert finishes(objs) == [(0, "STOP")] and "copyguard" not in objs[-1]
    for cut in range(len(data) + 1):
        assert run(data, ScriptedFilter(hold=5), (cut,)) == whole


@pytest.mark.parametrize("framing", FRAMINGS)
def test_block_ends_with_recitation_report_and_usage(framing: str) -> None:
    """A block ends the response at once: RECITATION, the findings, the last usage seen."""
    data = FRAMINGS[framing](REPLY)
    for cut in (0, len(data) // 2, len(data)):
        out = run(data, ScriptedFilter(block="secret"), (cut,))
        objs = parse(out)
        assert b"secret" not in out.replace(b'"block"', b"")
        assert texts(objs) == {"0": "Hello, the "}
        assert finishes(objs) == [(0, "RECITATION")]
        assert objs[-1]["copyguard"] == {"findings": [{"stream": "0", "action": "block"}]}
        assert objs[-1]["usageMetadata"]["candidatesTokenCount"] == 2


def test_redaction_and_the_report_on_the_last_event() -> None:
    """Redacted text is replaced in place; the report rides on the finishing event."""
    objs = parse(run(sse(REPLY), ScriptedFilter(redact="secret")))
    assert texts(objs) == {"0": "Hello, the […] word is here."}
    assert "copyguard" in objs[-1] and finishes(objs) == [(0, "STOP")]


def test_thoughts_and_candidates_are_streams_of_their_own() -> None:
    """Thought parts and each candidate have their own key; a block ends every candidate."""
    reply = [
        response(text("I think about ", thought=True), text("Fine ")),
        response(text("the secret.", thought=True), index=1) | {"candidates": [
            {"content": {"parts": [text("a secret.", thought=True), text("done")]}, "index": 0},
            {"content": {"parts": [text("Other answer")]}, "index": 1}]},
    ]  # fmt: skip
    guard = ScriptedFilter(block="secret", hold=4)
    objs = parse(run(sse(reply), guard))
    assert texts(objs) == {"0/thought": "I think about a ", "0": "Fine done", "1": "Other answer"}
    assert sorted(finishes(objs)) == [(0, "RECITATION"), (1, "RECITATION")]
    assert {k for _, k, _ in guard.events} == {"0", "0/thought", "1"}


@pytest.mark.parametrize("framing", FRAMINGS)
def test_stream_without_finish_ends_with_an_error(framing: str) -> None:
    """An upstream that stops before every candidate finished: held text, then Google's error."""
    objs = parse(run(FRAMINGS[framing](REPLY[:2]), ScriptedFilter(hold=3)))
    assert texts(objs) == {"0": "Hello, the secret word"}
    assert objs[-1]["error"] == {"code": 500, "message": objs[-1]["error"]["message"],
                                 "status": "INTERNAL"}  # fmt: skip


@pytest.mark.parametrize("framing", FRAMINGS)
def test_fail_and_upstream_errors_end_in_the_format(framing: str) -> None:
    """fail() settles then errors; an upstream error element is forwarded and ends the stream."""
    rewriter = DIALECT.stream_rewriter(ScriptedFilter(hold=3), {})
    data = FRAMINGS[framing]([REPLY[0], {"error": {"code": 503, "message": "busy"}}, REPLY[2]])
    out = rewriter.feed(data)
    assert rewriter.finished and rewriter.fail("x") == b""
    objs = parse(out)
    assert texts(objs) == {"0": "Hello, the "} and objs[-1]["error"]["code"] == 503
    broken = DIALECT.stream_rewriter(ScriptedFilter(hold=3), {})
    out = broken.feed(FRAMINGS[framing](REPLY)[:40]) + broken.fail("upstream went away")
    assert parse(out)[-1]["error"]["message"] == "upstream went away"


def test_whole_answer_to_a_stream_request() -> None:
    """One response object where a stream was asked for is guarded whole, as a body."""
    body = json.dumps(response(text("the secret word"), finish="STOP")).encode()
    assert run(body, ScriptedFilter(), (3,)) == body
    obj = orjson.loads(run(body, ScriptedFilter(block="secret"), (3,)))
    assert finishes([obj]) == [(0, "RECITATION")] and "copyguard" in obj


def test_whole_bodies() -> None:
    """generateContent: unchanged bodies come back as they are, a block says RECITATION."""
    body = json.dumps(response(text("Hello, the secret word"), finish="STOP")).encode()
    assert GeminiGenerate().rewrite_body(body, ScriptedFilter(hold=3)) is body
    error = b'{"error": {"code": 400, "message": "secret", "status": "INVALID_ARGUMENT"}}'
    with pytest.raises(StrayText):
        GeminiGenerate().rewrite_body(error, ScriptedFilter(block="secret"))
    logprobs = response(text("the secret"), finish="STOP") | {"candidates": [
        {"content": {"parts": [text("the secret")]}, "finishReason": "STOP", "index": 0,
         "logprobsResult": {"chosenCandidates": [{"token": "secret"}]}}]}  # fmt: skip
    obj = orjson.loads(GeminiGenerate().rewrite_body(json.dumps(logprobs).encode(),
                                                     ScriptedFilter(redact="secret")))  # fmt: skip
    candidate = obj["candidates"][0]
    assert candidate["content"]["parts"] == [text("the […]")] and "logprobsResult" not in candidate
    assert "copyguard" in obj and candidate["finishReason"] == "STOP"


@pytest.mark.parametrize(
    "obj",
    [
        response({"functionCall": {"name": "f", "args": {"q": "the secret"}}}),
        response(text("x")) | {"promptFeedback": {"blockReasonMessage": "a secret"}},
        {"candidates": [{"content": {"parts": [{"executableCode": {"code": "secret()"}}]}}]},
    ],
    ids=["function-args", "unknown-field", "code"],
)
def test_unguarded_strings_are_checked_as_strays(obj: Obj) -> None:
    """Strings outside the text parts are checked whole; a hit ends the response."""
    with pytest.raises(StrayText):
        run(sse([obj]), ScriptedFilter(block="secret"))


@pytest.mark.parametrize(
    "data",
    [b'data: {"candidates": {}}\n\n', b'[{"candidates": [{"index": "0"}]}]', b"data: [1]\n\n",
     b'[{"candidates": [{"content": {"parts": "x"}}]}]', b"[{}, 7]"],
)  # fmt: skip
def test_malformed_events_raise(data: bytes) -> None:
    """Shapes a client could not read raise DialectError (the proxy then ends the stream)."""
    with pytest.raises(DialectError):
        DIALECT.stream_rewriter(ScriptedFilter(), {}).feed(data)


def test_routes_and_errors() -> None:
    """Both routes on v1beta, v1 and Vertex AI; the path asks for a stream; Google's errors."""
    assert "/v1beta/models/{model}:generateContent" in GeminiGenerate().paths
    assert "/v1/models/{model}:streamGenerateContent" in DIALECT.paths
    vertex = "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
    assert vertex + ":generateContent" in GeminiGenerate().paths
    assert DIALECT.wants_stream({"stream": False}) and not GeminiGenerate().wants_stream({})
    assert DIALECT.answers_as_stream("application/json")
    assert orjson.loads(DIALECT.error_body(429, "slow down")) == {
        "error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}
    }
