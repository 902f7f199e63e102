"""Tests for the OpenAI Responses API dialect (streamed events and complete responses)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, get_args

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel

from proxy.dialects.base import DialectError, TextFilter
from proxy.dialects.openai_responses import OpenAIResponses
from proxy.dialects.openai_responses_items import BY_DELTA, BY_DONE, KINDS, item_texts
from proxy.dialects.sse import SseDecoder
from tests.fakes import ScriptedFilter

JsonObject = dict[str, Any]
EVENT_MODELS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in get_args(get_args(ResponseStreamEvent)[0])
}
DIALECT = OpenAIResponses()
TEXT = ["Hello", " there, the secret", " code is", " 1234 and", " that is all."]
LOGPROB = {"token": "x", "bytes": [120], "logprob": -0.5, "top_logprobs": []}


class Upstream:
    """Builds a realistic Responses event stream with contiguous sequence numbers."""

    def __init__(self) -> None:
        self.events: list[JsonObject] = []
        self.output: list[JsonObject] = []
        self.response: JsonObject = {
            "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-4o",
            "status": "in_progress", "output": [], "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "usage": None, "error": None,
            "incomplete_details": None,
        }  # fmt: skip
        self.add("response.created", response=dict(self.response))
        self.add("response.in_progress", response=dict(self.response))

    def add(self, type_: str, **fields: Any) -> None:
        event = {"type": type_, **fields, "sequence_number": len(self.events)}
        self.events.append(orjson.loads(orjson.dumps(event)))  # a snapshot: items grow later

    def _item(self, item: JsonObject, stream: Callable[[int, str], None]) -> None:
        o = len(self.output)
        self.add("response.output_item.added", output_index=o, item=item)
        stream(o, item["id"])
        item = {**item, "status": "completed"} if "status" in item else item
        self.output.append(item)
        self.add("response.output_item.done", output_index=o, item=item)

    def message(self, chunks: list[str], refusal: bool = False) -> Upstream:
        n = len(self.output)
        part: JsonObject = {"type": "output_text", "annotations": [], "text": "", "logprobs": []}
        field, kind = "text", "output_text"
        if refusal:
            part, field, kind = {"type": "refusal", "refusal": ""}, "refusal", "refusal"
        item: JsonObject = {"id": f"msg_{n}", "type": "message", "status": "in_progress",
                "role": "assistant", "content": []}  # fmt: skip
        full = "".join(chunks)

        def stream(o: int, item_id: str) -> None:
            at = {"item_id": item_id, "output_index": o, "content_index": 0}
            self.add("response.content_part.added", **at, part=part)
            for chunk in chunks:
                extra = {} if refusal else {"logprobs": [LOGPROB]}
                self.add(f"response.{kind}.delta", **at, delta=chunk, **extra)
            extra = {} if refusal else {"logprobs": [LOGPROB] * len(chunks)}
            self.add(f"response.{kind}.done", **at, **{field: full}, **extra)
            done = {**part, field: full, **extra}
            self.add("response.content_part.done", **at, part=done)
            item["content"] = [done]

        self._item(item, stream)
        return self

    def reasoning(self, chunks: list[str]) -> Upstream:
        item: JsonObject = {"id": f"rs_{len(self.output)}", "type": "reasoning", "summary": []}
        full = "".join(chunks)

        def stream(o: int, item_id: str) -> None:
            at = {"item_id": item_id, "output_index": o, "summary_index": 0}
            self.add("response.reasoning_summary_part.added", **at,
                     part={"type": "summary_text", "text": ""})  # fmt: skip
            for chunk in chunks:
                self.add("response.reasoning_summary_text.delta", **at, delta=chunk)
            self.add("response.reasoning_summary_text.done", **at, text=full)
            part = {"type": "summary_text", "text": full}
            self.add("response.reasoning_summary_part.done", **at, part=part)
            item["summary"] = [part]

        self._item(item, stream)
        return self

    def reasoning_text(self, chunks: list[str]) -> Upstream:
        item: JsonObject = {"id": f"rs_{len(self.output)}", "type": "reasoning", "summary": []}
        full = "".join(chunks)

        def stream(o: int, item_id: str) -> None:
            at = {"item_id": item_id, "output_index": o, "content_index": 0}
            part = {"type": "reasoning_text", "text": ""}
            self.add("response.content_part.added", **at, part=part)
            for chunk in chunks:
                self.add("response.reasoning_text.delta", **at, delta=chunk)
            self.add("response.reasoning_text.done", **at, text=full)
            part = {**part, "text": full}
            self.add("response.content_part.done", **at, part=part)
            item["content"] = [part]

        self._item(item, stream)
        return self

    def function_call(self, chunks: list[str]) -> Upstream:
        item = {"id": f"fc_{len(self.output)}", "type": "function_call", "status": "in_progress",
                "arguments": "", "call_id": "call_1", "name": "lookup"}  # fmt: skip

        def stream(o: int, item_id: str) -> None:
            at = {"item_id": item_id, "output_index": o}
            for chunk in chunks:
                self.add("response.function_call_arguments.delta", **at, delta=chunk)
            item["arguments"] = "".join(chunks)
            self.add("response.function_call_arguments.done", **at, arguments=item["arguments"])

        self._item(item, stream)
        return self

    def usage(self) -> JsonObject:
        return {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0}}  # fmt: skip

    def bytes(self, end: str = "completed", named: bool = True) -> bytes:
        """The stream's bytes, ending with ``end``: "completed", "failed" or "" (cut short)."""
        if end == "completed":
            done = {**self.response, "status": "completed", "output": self.output}
            self.add("response.completed", response={**done, "usage": self.usage()})
        elif end == "failed":
            self.add("error", code="server_error", message="boom", param=None)
            error = {"code": "server_error", "message": "boom"}
            failed = {**self.response, "status": "failed", "output": self.output, "error": error}
            self.add("response.failed", response=failed)
        return b"".join(
            (b"event: " + e["type"].encode() + b"\n" if named else b"")
            + b"data: " + orjson.dumps(e) + b"\n\n"
            for e in self.events
        )  # fmt: skip


ARGS = ['{"query": "the', " secret", ' code"}']
SCENARIOS: dict[str, Callable[[], Upstream]] = {
    "message": lambda: Upstream().message(TEXT),
    "reasoning": lambda: (
        Upstream().reasoning(["Think about", " the secret", " code."]).message(["It is", " fine."])
    ),
    "reasoning_text": lambda: Upstream().reasoning_text(["So", " the secret", " is"]),
    "function_call": lambda: Upstream().function_call(ARGS),
    "two_messages": lambda: Upstream().message(["First", " part."]).message(TEXT),
    "refusal": lambda: Upstream().message(["I can't share", " the secret code."], refusal=True),
}


def run(guard: TextFilter, raw: bytes, chunks: list[int] | None = None) -> bytes:
    """Feed ``raw`` (in pieces ending at ``chunks`` offsets, else byte by byte), then flush."""
    rewriter = DIALECT.stream_rewriter(guard, {"stream": True})
    cuts = chunks if chunks is not None else list(range(1, len(raw)))
    out, start = [], 0
    for end in [*cuts, len(raw)]:
        out.append(rewriter.feed(raw[start:end]))
        start = end
    out.append(rewriter.flush())
    return b"".join(out)


def parse(out: bytes) -> list[JsonObject]:
    """Decode the client's stream; validate every event with the openai SDK's types."""
    decoder = SseDecoder()
    events = []
    for ev in decoder.feed(out) + decoder.flush():
        assert ev.data is not None
        obj = orjson.loads(ev.data)
        assert ev.event == obj["type"]
        EVENT_MODELS[obj["type"]].model_validate(obj)
        events.append(obj)
    return events


def check_consistent(events: list[JsonObject]) -> dict[str, str]:
    """Assert contiguous numbering and that every repeated full text equals the deltas sent."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    sent: dict[str, str] = defaultdict(str)
    for e in events:
        o = e.get("output_index", 0)
        if (kind := BY_DELTA.get(e["type"])) is not None:
            sent[kind.key(o, e.get(kind.index or "", 0))] += e["delta"]
        elif (kind := BY_DONE.get(e["type"])) is not None:
            assert e[kind.field] == sent[kind.key(o, e.get(kind.index or "", 0))]
        elif e["type"] in ("response.content_part.done", "response.reasoning_summary_part.done"):
            kind = next(k for k in KINDS if k.part_type == e["part"]["type"])
            assert e["part"][kind.field] == sent[kind.key(o, e[kind.index or ""])]
        items = [(o, e["item"])] if e["type"] == "response.output_item.done" else []
        if e["type"] in ("response.completed", "response.incomplete"):
            Response.model_validate(e["response"])
            items = list(enumerate(e["response"]["output"]))
        for o, item in items:
            for kind, i, holder in item_texts(item):
                assert holder[kind.field] == sent[kind.key(o, i)]
    return dict(sent)


@pytest.mark.parametrize("name", SCENARIOS)
def test_clean_stream_is_byte_identical(name: str) -> None:
    """A stream the filter does not touch reaches the client byte for byte, split anywhere."""
    raw = SCENARIOS[name]().bytes()
    assert run(ScriptedFilter(), raw) == raw
    assert run(ScriptedFilter(), raw, chunks=[]) == raw
    check_consistent(parse(raw))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(SCENARIOS)), st.lists(st.integers(1, 4000), max_size=12))
def test_output_does_not_depend_on_splits(name: str, cuts: list[int]) -> None:
    """Held and redacted streams give the same client bytes however the upstream is split."""
    raw = SCENARIOS[name]().bytes()
    points = sorted({c for c in cuts if c < len(raw)})
    whole = run(ScriptedFilter(redact="secret", hold=3), raw, chunks=[])
    assert run(ScriptedFilter(redact="secret", hold=3), raw, chunks=points) == whole


@pytest.mark.parametrize("name", SCENARIOS)
def test_held_text_is_released_before_the_done_events(name: str) -> None:
    """Text held at the end of a stream goes out as one extra delta before its done event."""
    upstream = SCENARIOS[name]()
    raw = upstream.bytes()
    events = parse(run(ScriptedFilter(hold=4), raw))
    sent = check_consistent(events)
    assert len(events) == len(upstream.events) + len(sent)  # one extra delta per stream
    for i, e in enumerate(events):
        if (kind := BY_DONE.get(e["type"])) is not None:
            assert events[i - 1]["type"] == kind.delta
            assert len(events[i - 1]["delta"]) == 4
    completed = events[-1]
    assert completed["type"] == "response.completed"
    assert "copyguard" not in completed
    assert completed["response"] == upstream.events[-1]["response"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_redaction_is_consistent_everywhere(name: str) -> None:
    """A redacted word is replaced in deltas, done events and the final response alike."""
    out = run(ScriptedFilter(redact="secret", hold=2), SCENARIOS[name]().bytes())
    assert b"secret" not in out
    events = parse(out)
    sent = check_consistent(events)
    assert any("[…]" in text for text in sent.values())
    assert events[-1]["copyguard"] == {"findings": []}


def test_logprobs_only_for_unchanged_text() -> None:
    """Logprobs stay on untouched deltas and are dropped wherever the text was changed."""
    events = parse(run(ScriptedFilter(redact="secret"), Upstream().message(TEXT).bytes()))
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert [e["delta"] for e in deltas if e["logprobs"]] == ["Hello", " that is all."]
    assert all(e["delta"] in TEXT for e in deltas if e["logprobs"])
    done = [e for e in events if e["type"] == "response.output_text.done"]
    parts = [e["part"] for e in events if e["type"] == "response.content_part.done"]
    final = events[-1]["response"]["output"][0]["content"][0]
    assert done[0]["logprobs"] == parts[0]["logprobs"] == final["logprobs"] == []


@pytest.mark.parametrize(
    ("name", "hold", "blocked_index"),
    [
        ("message", 2, 0),
        ("message", 99, 0),  # the block only shows when the stream is closed
        ("reasoning", 2, 0),
        ("reasoning_text", 2, 0),
        ("function_call", 2, 0),
        ("function_call", 99, 0),
        ("two_messages", 2, 1),
        ("refusal", 2, 0),
    ],
)
def test_block_ends_the_response_as_incomplete(name: str, hold: int, blocked_index: int) -> None:
    """A block closes every open item and ends with response.incomplete (content_filter)."""
    raw = SCENARIOS[name]().bytes()
    guard = ScriptedFilter(block="secret", hold=hold)
    rewriter = DIALECT.stream_rewriter(guard, {})
    out = b"".join(rewriter.feed(raw[i : i + 7]) for i in range(0, len(raw), 7))
    assert rewriter.finished
    out += rewriter.feed(raw) + rewriter.flush() + rewriter.fail("late")
    assert b"secret" not in out
    events = parse(out)
    check_consistent(events)
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert last["response"]["id"] == "resp_1"
    assert last["copyguard"] == guard.report() != None  # noqa: E711
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["output_index"] for e in done] == added == list(range(blocked_index + 1))
    assert done[-1]["item"]["status"] == "incomplete"
    assert last["response"]["output"] == [e["item"] for e in done]


def test_upstream_error_then_failed_response() -> None:
    """An upstream error releases held text first; response.failed repeats the released text."""
    upstream = Upstream().message(TEXT)
    kept = [e for e in upstream.events if not e["type"].endswith("done")]
    upstream.events = [{**e, "sequence_number": n} for n, e in enumerate(kept)]
    upstream.output = [{**upstream.output[0], "status": "incomplete"}]
    raw = upstream.bytes(end="failed")
    events = parse(run(ScriptedFilter(hold=4), raw, chunks=[]))
    check_consistent(events)
    types = [e["type"] for e in events]
    assert types[-3:] == ["response.output_text.delta", "error", "response.failed"]
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "".join(TEXT)


@pytest.mark.parametrize("named", [True, False])
def test_inserted_events_follow_the_upstream_event_lines(named: bool) -> None:
    """Re-encoded and inserted events carry an ``event:`` line only if the upstream's do."""
    upstream = Upstream().message(TEXT)
    out = run(ScriptedFilter(hold=3), upstream.bytes(named=named), chunks=[])
    assert out.count(b"data: ") == len(upstream.events) + 1  # one released tail
    assert out.count(b"event: ") == (len(upstream.events) + 1 if named else 0)


def test_stream_keys() -> None:
    """Each text stream gets its own key: parts, reasoning summaries and call arguments."""
    upstream = Upstream().reasoning(["Hmm."]).message(["Hi."]).function_call(["{}"])
    upstream.reasoning_text(["Hm."]).message(["No."], refusal=True)
    guard = ScriptedFilter()
    run(guard, upstream.bytes(), chunks=[])
    assert set(guard.streams) == {"0/reasoning/0", "1/0", "2/args", "3/reasoning/text/0", "4/0"}
    assert {key for op, key, _ in guard.events if op == "close"} == set(guard.streams)


def test_flush_without_terminal_event_ends_with_an_error() -> None:
    """An upstream that stops early gets its held text released, then an error event."""
    raw = Upstream().message(TEXT).bytes(end="")
    cut = raw.index(b"event: response.output_text.done")
    events = parse(run(ScriptedFilter(hold=5), raw[:cut], chunks=[]))
    check_consistent(events)
    assert "".join(e.get("delta", "") for e in events) == "".join(TEXT)
    assert events[-1]["type"] == "error"
    assert events[-1]["code"] == "upstream_error"


def test_fail_releases_held_text_and_ends_with_an_error() -> None:
    """fail() settles every stream, then sends the Responses error event and finishes."""
    raw = Upstream().message(TEXT).bytes()
    cut = raw.index(b"event: response.output_text.done")
    rewriter = DIALECT.stream_rewriter(ScriptedFilter(hold=5, redact="secret"), {})
    out = rewriter.feed(raw[:cut]) + rewriter.fail("upstream timed out")
    assert rewriter.finished
    assert rewriter.feed(raw[cut:]) == rewriter.flush() == rewriter.fail("again") == b""
    events = parse(out)
    check_consistent(events)
    error = events[-1]
    assert error["type"] == "error"
    assert (error["code"], error["message"]) == ("upstream_error", "upstream timed out")
    assert error["copyguard"] == {"findings": []}
    assert "".join(e.get("delta", "") for e in events) == "".join(TEXT).replace("secret", "[…]")


@pytest.mark.parametrize(
    "raw",
    [
        b"event: response.created\ndata: {not json\n\n",
        b"data: [1, 2]\n\n",
        b'data: {"type": ["response.created"]}\n\n',
        b'data: {"type": "response.output_text.delta", "output_index": 0, "delta": "x"}\n\n',
        b'data: {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}\n\n',
        b'data: {"type": "response.output_item.done", "output_index": 0}\n\n',
    ],
)
def test_malformed_events_raise(raw: bytes) -> None:
    """Events that are not Responses JSON raise DialectError."""
    with pytest.raises(DialectError):
        DIALECT.stream_rewriter(ScriptedFilter(), {}).feed(raw)


def test_keep_alive_comments_pass_through() -> None:
    """Comment-only blocks are forwarded as bare keep-alives, without their text."""
    rewriter = DIALECT.stream_rewriter(ScriptedFilter(), {})
    assert rewriter.feed(b":\n\n") == b":\n\n"
    assert rewriter.feed(b": keep-alive\n\n") == b":\n\n"


@pytest.mark.parametrize(
    ("request_", "expected"),
    [({}, False), ({"stream": None}, False), ({"stream": False}, False), ({"stream": True}, True)],
)
def test_wants_stream(request_: JsonObject, expected: bool) -> None:
    """The stream flag is read as a boolean; absent or null means not streamed."""
    assert DIALECT.wants_stream(request_) is expected


@pytest.mark.parametrize("value", ["true", 1, [], {}])
def test_wants_stream_rejects_non_booleans(value: object) -> None:
    """A non-boolean stream flag is a DialectError."""
    with pytest.raises(DialectError):
        DIALECT.wants_stream({"stream": value})


@pytest.mark.parametrize(
    ("status", "type_"),
    [(400, "invalid_request_error"), (413, "request_too_large"), (502, "upstream_error"),
     (504, "upstream_error"), (500, "api_error"), (429, "api_error")],
)  # fmt: skip
def test_error_body(status: int, type_: str) -> None:
    """Errors use the OpenAI error shape with a type derived from the status."""
    body = orjson.loads(DIALECT.error_body(status, "nope"))
    assert body == {"error": {"message": "nope", "type": type_, "param": None, "code": None}}


def full_response(name: str) -> JsonObject:
    """The complete (non-streamed) response object of a scenario."""
    upstream = SCENARIOS[name]()
    upstream.bytes()
    response: JsonObject = upstream.events[-1]["response"]
    return response


@pytest.mark.parametrize("name", SCENARIOS)
def test_rewrite_body_returns_the_same_bytes_when_clean(name: str) -> None:
    """An untouched response is returned as the very same bytes object."""
    body = orjson.dumps(full_response(name))
    assert DIALECT.rewrite_body(body, ScriptedFilter(hold=3)) is body


@pytest.mark.parametrize(
    ("guard", "status", "reason"),
    [
        (ScriptedFilter(redact="secret"), "completed", None),
        (ScriptedFilter(block="secret"), "incomplete", {"reason": "content_filter"}),
    ],
)
@pytest.mark.parametrize("name", SCENARIOS)
def test_rewrite_body_guards_every_text(
    name: str, guard: ScriptedFilter, status: str, reason: JsonObject | None
) -> None:
    """Redacted or blocked text never appears in the rewritten body, and the report is attached."""
    guard = ScriptedFilter(redact=guard.redact, block=guard.block)
    response = full_response(name)
    response["output_text"] = "the secret"
    out = DIALECT.rewrite_body(orjson.dumps(response), guard)
    assert b"secret" not in out
    result = orjson.loads(out)
    Response.model_validate(result)
    assert (result["status"], result["incomplete_details"]) == (status, reason)
    assert result["copyguard"] == guard.report()
    for o, (before, after) in enumerate(zip(response["output"], result["output"], strict=True)):
        for (kind, i, old), (_, _, new) in zip(item_texts(before), item_texts(after), strict=True):
            assert new[kind.field] == guard.released(kind.key(o, i))
            changed = new[kind.field] != old[kind.field] and "logprobs" in old
            assert new.get("logprobs") == ([] if changed else old.get("logprobs"))


@pytest.mark.parametrize("body", [b"not json", b"[]", b'"text"'])
def test_rewrite_body_rejects_non_objects(body: bytes) -> None:
    """A body that is not a JSON object is a DialectError."""
    with pytest.raises(DialectError):
        DIALECT.rewrite_body(body, ScriptedFilter())
