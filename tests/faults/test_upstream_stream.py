"""Broken upstream streams (after the response headers): each ends in a defined way.

The upstream is a replay of what the demo sent for the route, damaged one way; the client
must get either the same answer (harmless damage) or the format's error event and a clean
end, never a hang, a traceback or protected text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from proxy.demo.answers import CLEAN, load_works, named_answer
from tests.conftest import SAMPLE_RULES
from tests.faults.common import (
    IDS,
    POEM,
    assert_no_protected_run,
    ends_with_error,
    objects,
    post,
    split_events,
)
from tests.proxy.harness import Replay, StartStack
from tests.proxy.routes import ROUTES, Route

Mutation = Callable[[list[bytes], bool], list[bytes]]
SAME, ERROR, FILTERED = "same answer", "error event", "filtered"


def _insert(events: list[bytes], at: int, extra: bytes) -> list[bytes]:
    return events[:at] + [extra] + events[at:]


def garbage_json(events: list[bytes], ndjson: bool) -> list[bytes]:
    return _insert(events, 3, b"{this is not json\n" if ndjson else b"data: {not json\n\n")


def noise_line(events: list[bytes], ndjson: bool) -> list[bytes]:
    return _insert(events, 3, b"@@ line noise @@\n" if ndjson else b"@@ line noise @@\n\n")


# A whole stanza of the poem, where no client parser looks: it must not pass either.
STANZA = named_answer(POEM, load_works(SAMPLE_RULES)).encode().replace(b"\n", b" ")


def poem_in_comment(events: list[bytes], ndjson: bool) -> list[bytes]:
    return _insert(events, 3, b"\n" if ndjson else b": " + STANZA + b"\n\n")


def poem_in_unknown_field(events: list[bytes], ndjson: bool) -> list[bytes]:
    if ndjson:
        return _insert(events, 3, STANZA + b"\n")
    return [b"poem: " + STANZA + b"\n" + e if e.startswith(b"data:") else e for e in events]


def _with_field(event: bytes, ndjson: bool, value: str) -> bytes:
    """``event`` with a field no format defines, at the top of its JSON object."""
    head, sep, data = (b"", b"", event) if ndjson else event.partition(b"data: ")
    body = data.rstrip(b"\r\n")
    if not body.startswith(b"{"):
        return event
    obj = orjson.loads(body)
    obj["x_note"] = value
    return head + sep + orjson.dumps(obj) + data[len(body) :]


def poem_word_by_word_in_json(events: list[bytes], ndjson: bool) -> list[bytes]:
    words = STANZA.decode().split()
    return [_with_field(e, ndjson, words[n % len(words)] + " ") for n, e in enumerate(events)]


def poem_whole_in_json(events: list[bytes], ndjson: bool) -> list[bytes]:
    return [_with_field(e, ndjson, STANZA.decode()) if n == 3 else e for n, e in enumerate(events)]


def keepalives(events: list[bytes], ndjson: bool) -> list[bytes]:
    extra = b"\n" if ndjson else b": keep-alive\n\n"
    return [piece for e in events for piece in (extra, e)]


def multiline_data(events: list[bytes], ndjson: bool) -> list[bytes]:
    out = []
    for e in events:
        head, _, data = e.rstrip(b"\n").rpartition(b"data: ")
        if not data.startswith(b"{"):
            out.append(e)
            continue
        pretty = orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2)
        out.append(head + b"".join(b"data: " + ln + b"\n" for ln in pretty.split(b"\n")) + b"\n")
    return out


def crlf(events: list[bytes], ndjson: bool) -> list[bytes]:
    return [e.replace(b"\n", b"\r\n") for e in events]


def missing_end(events: list[bytes], ndjson: bool) -> list[bytes]:
    return events[:-1]


def oversized(events: list[bytes], ndjson: bool) -> list[bytes]:
    pad = b'{"pad":"' + b"x" * (64 << 10) + b'"}'
    return _insert(events, 3, pad + b"\n" if ndjson else b"data: " + pad + b"\n\n")


def cut_mid_event(events: list[bytes], ndjson: bool) -> list[bytes]:
    return events[:5] + [events[5][: len(events[5]) // 2]]


def non_utf8(events: list[bytes], ndjson: bool) -> list[bytes]:
    body = b"".join(events)
    return [body.replace(b'"Cert', b'"\xffCert', 1)]


OPENAI = ("openai-chat", "openai-completions")
NDJSON = ("ollama-chat", "ollama-generate")

# (mutation, answer the upstream reproduces, what the client must get, per-route exceptions)
CASES: list[tuple[Mutation, str, str, dict[str, str]]] = [
    (garbage_json, POEM, ERROR, {}),
    # SSE ignores a field line it does not know (WHATWG); in NDJSON it is a bad line
    (noise_line, POEM, FILTERED, dict.fromkeys(NDJSON, ERROR)),
    # text outside data fields is read by no client: dropped, never passed on unscanned
    (poem_in_comment, CLEAN, SAME, {}),
    (poem_in_unknown_field, CLEAN, SAME, dict.fromkeys(NDJSON, ERROR)),
    # nor text in a JSON field no format defines: checked as it comes, the stream ends
    (poem_word_by_word_in_json, CLEAN, ERROR, {}),
    (poem_whole_in_json, CLEAN, ERROR, {}),
    (keepalives, CLEAN, SAME, {}),
    (keepalives, POEM, FILTERED, {}),
    (multiline_data, CLEAN, SAME, {}),
    (multiline_data, POEM, FILTERED, {}),
    (crlf, CLEAN, SAME, {}),
    (crlf, POEM, FILTERED, {}),
    # only OpenAI's "[DONE]" is dispensable: a stream without its final event is cut short
    (missing_end, CLEAN, ERROR, dict.fromkeys(OPENAI, SAME)),
    (oversized, POEM, ERROR, {}),
    (cut_mid_event, CLEAN, ERROR, {}),
    (non_utf8, POEM, ERROR, {}),
]


async def _direct(start_stack: StartStack, route: Route, answer: str) -> bytes:
    demo = await start_stack()
    status, _, body = await post(
        demo.upstream + route.url(True), route.request("hi", True), {"x-demo-answer": answer}
    )
    assert status == 200
    return body


def _texts(route: Route, body: bytes) -> dict[int, str]:
    objs: list[dict[str, Any]] = [o for o in objects(body) if isinstance(o, dict)]
    return route.texts(objs, True)


@pytest.mark.parametrize(
    ("mutate", "answer", "outcome", "except_on"),
    CASES,
    ids=[f"{m.__name__}-{a.split('/')[0]}" for m, a, _, _ in CASES],
)
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_damaged_stream_has_a_defined_outcome(
    start_stack: StartStack,
    route: Route,
    mutate: Mutation,
    answer: str,
    outcome: str,
    except_on: dict[str, str],
) -> None:
    """Each kind of stream damage gives its defined outcome and never leaks protected text."""
    outcome = except_on.get(route.name, outcome)
    if mutate is multiline_data and route.ndjson:
        pytest.skip("NDJSON has no multi-line events")
    if route.array:
        pytest.skip("a JSON-array stream has its own damage (test_damaged_array_stream)")
    await _check_damage(start_stack, route, lambda e: mutate(e, route.ndjson), answer, outcome)


async def _check_damage(
    start_stack: StartStack,
    route: Route,
    mutate: Callable[[list[bytes]], list[bytes]],
    answer: str,
    outcome: str,
) -> None:
    direct = await _direct(start_stack, route, answer)
    damaged = mutate(split_events(direct, route.ndjson))
    chunks = [c for piece in damaged for c in (piece[:7], piece[7:]) if c]
    ctype = "application/x-ndjson" if route.ndjson else "text/event-stream"
    if route.array:
        ctype = "application/json; charset=UTF-8"
    stack = await start_stack(
        replay=Replay(chunks, content_type=ctype), max_event_bytes=4096, read_timeout=2.0
    )
    status, _, body = await post(stack.proxy + route.url(True), route.request("hi", True))
    assert status == 200
    assert_no_protected_run(body)
    if outcome == SAME:
        assert _texts(route, body) == _texts(route, direct) and not ends_with_error(body)
    elif outcome == FILTERED:
        assert route.filtered([o for o in objects(body) if isinstance(o, dict)], True)
    else:
        assert ends_with_error(body)


def _element(piece: bytes, change: Callable[[Any], Any]) -> bytes:
    """A JSON-array element (with its separator, or the closing bracket) changed by ``change``."""
    start, end = piece.index(b"{"), piece.rindex(b"}") + 1
    return piece[:start] + orjson.dumps(change(orjson.loads(piece[start:end]))) + piece[end:]


def _noted(value: str) -> Callable[[Any], Any]:
    return lambda obj: obj | {"x_note": value}


# (mutation of the elements, each with the separator before it; answer; outcome)
ARRAY_CASES: list[tuple[str, Callable[[list[bytes]], list[bytes]], str, str]] = [
    ("garbage_element", lambda e: _insert(e, 3, b"\r\n,{this is not json}"), POEM, ERROR),
    ("noise_between", lambda e: _insert(e, 3, b"\r\n@@ line noise @@"), POEM, ERROR),
    ("scalar_element", lambda e: _insert(e, 3, b"\r\n,42"), CLEAN, ERROR),
    ("poem_in_unknown_field", lambda e: [_element(e[3], _noted(STANZA.decode())), *e[4:]], CLEAN,
     ERROR),
    ("poem_word_by_word", lambda e: [_element(p, _noted(w + " ")) for p, w in
                                     zip(e, STANZA.decode().split() * 9, strict=False)], CLEAN,
     ERROR),
    ("whitespace", lambda e: [w for p in e for w in (b" \n\t\r\n ", p)], CLEAN, SAME),
    ("whitespace", lambda e: [w for p in e for w in (b" \n\t\r\n ", p)], POEM, FILTERED),
    ("compact", lambda e: [_element(p, lambda o: o) for p in e], CLEAN, SAME),
    ("compact", lambda e: [_element(p, lambda o: o) for p in e], POEM, FILTERED),
    ("missing_end", lambda e: [*e[:-1], e[-1].rstrip()[:-1]], CLEAN, ERROR),
    ("cut_mid_element", lambda e: [*e[:5], e[5][: len(e[5]) // 2]], CLEAN, ERROR),
    ("oversized", lambda e: _insert(e, 3, b"\r\n,{\"pad\":\"" + b"x" * (64 << 10) + b'"}'), POEM,
     ERROR),
    ("non_utf8", lambda e: [b"".join(e).replace(b'"Cert', b'"\xffCert', 1)], POEM, ERROR),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "answer", "outcome"),
    [case[1:] for case in ARRAY_CASES],
    ids=[f"{name}-{answer.split('/')[0]}" for name, _, answer, _ in ARRAY_CASES],
)
@pytest.mark.parametrize("route", [r for r in ROUTES if r.array], ids=lambda r: r.name)
async def test_damaged_array_stream(
    start_stack: StartStack,
    route: Route,
    mutate: Callable[[list[bytes]], list[bytes]],
    answer: str,
    outcome: str,
) -> None:
    """A JSON-array stream damaged one way gives its defined outcome and leaks nothing."""
    await _check_damage(start_stack, route, mutate, answer, outcome)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_whole_answer_to_a_stream_request_is_guarded(
    start_stack: StartStack, route: Route
) -> None:
    """An upstream that answers a stream request with one JSON body gets it guarded whole."""
    demo = await start_stack()
    status, _, whole = await post(
        demo.upstream + route.url(False), route.request("hi", False), {"x-demo-answer": POEM}
    )
    assert status == 200
    replay = Replay([whole[:50], whole[50:]], content_type="application/json")
    stack = await start_stack(replay=replay)
    status, headers, body = await post(stack.proxy + route.url(True), route.request("hi", True))
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert_no_protected_run(body)
    assert route.filtered([orjson.loads(body)], False)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_protected_text_outside_a_whole_answer_is_withheld(
    start_stack: StartStack, route: Route
) -> None:
    """A whole answer carrying a work in a field no format defines gets the format's error."""
    demo = await start_stack()
    status, _, whole = await post(demo.upstream + route.url(False), route.request("hi", False))
    assert status == 200
    obj = orjson.loads(whole)
    obj["x_note"] = STANZA.decode()
    stack = await start_stack(replay=Replay([orjson.dumps(obj)], content_type="application/json"))
    status, _, body = await post(stack.proxy + route.url(False), route.request("hi", False))
    assert status == 502
    assert_no_protected_run(body)
    assert b"withheld" in body


def _code_item(stanza: str) -> dict[str, Any]:
    return {"type": "code_interpreter_call", "id": "ci_1", "status": "completed", "code": stanza}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_protected_text_in_an_unguarded_responses_item_is_withheld(
    start_stack: StartStack, stream: bool
) -> None:
    """An output item of a type no rewriter guards (code being run) is checked all the same."""
    route = next(r for r in ROUTES if r.name == "openai-responses")
    demo = await start_stack()
    status, _, direct = await post(demo.upstream + route.url(stream), route.request("hi", stream))
    assert status == 200
    if stream:
        events = split_events(direct, False)
        done = {"type": "response.output_item.done", "sequence_number": 0, "output_index": 1}
        extra = b"data: " + orjson.dumps(done | {"item": _code_item(STANZA.decode())}) + b"\n\n"
        chunks, ctype = [*events[:-1], extra, events[-1]], "text/event-stream"
    else:
        obj = orjson.loads(direct)
        obj["output"].append(_code_item(STANZA.decode()))
        chunks, ctype = [orjson.dumps(obj)], "application/json"
    stack = await start_stack(replay=Replay(chunks, content_type=ctype))
    status, _, body = await post(stack.proxy + route.url(stream), route.request("hi", stream))
    assert_no_protected_run(body)
    assert b"withheld" in body
    assert ends_with_error(body) if stream else status == 502
