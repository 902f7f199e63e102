"""Tests for the SSE decoder and encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.dialects.base import DialectError
from proxy.dialects.sse import SseDecoder, SseEvent, encode_sse

SAMPLE = (
    b": keep-alive\n\n"
    b'event: delta\r\ndata: {"a": "h\xc3\xa9llo"}\r\n\r\n'
    b"data: line one\rdata:line two\r\r"
    b"id: 7\nretry: 1500\ndata\n\n"
    b"\n\n"
    b"data: [DONE]\n\n"
)
PASSED = SAMPLE.replace(b": keep-alive", b":")  # what is forwarded: comment text goes
EXPECTED = [
    (None, None, None, None),
    ("delta", '{"a": "héllo"}', None, None),
    (None, "line one\nline two", None, None),
    (None, "", "7", 1500),
    (None, "[DONE]", None, None),
]


def fields(events: list[SseEvent]) -> list[tuple[str | None, str | None, str | None, int | None]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def decode(chunks: list[bytes], max_event_bytes: int = 1 << 20) -> list[SseEvent]:
    dec = SseDecoder(max_event_bytes)
    out: list[SseEvent] = []
    for chunk in chunks:
        out += dec.feed(chunk)
    return out + dec.flush()


def test_whole_stream() -> None:
    """A stream fed in one piece gives every event with its fields and exact raw bytes."""
    events = decode([SAMPLE])
    assert fields(events) == EXPECTED
    assert b"".join(e.raw for e in events) == PASSED
    assert events[0].raw == b":\n\n"
    assert events[-1].raw == b"\n\ndata: [DONE]\n\n"


@pytest.mark.parametrize("cut", range(1, len(SAMPLE)))
def test_every_two_way_split(cut: int) -> None:
    """Splitting the stream at any byte (inside UTF-8, CRLF, field names) changes nothing."""
    events = decode([SAMPLE[:cut], SAMPLE[cut:]])
    assert fields(events) == EXPECTED
    assert b"".join(e.raw for e in events) == PASSED


def test_byte_by_byte() -> None:
    """One byte per feed gives the same events and raw bytes."""
    events = decode([SAMPLE[i : i + 1] for i in range(len(SAMPLE))])
    assert [e.raw for e in events] == [e.raw for e in decode([SAMPLE])]


@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=12))
def test_any_split_is_whole(cuts: list[int]) -> None:
    """Any set of split points gives exactly the events of the whole stream."""
    points = [0, *sorted(cuts), len(SAMPLE)]
    chunks = [SAMPLE[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert decode(chunks) == decode([SAMPLE])


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_any_bytes_any_split(stream: bytes, cuts: list[int]) -> None:
    """For arbitrary bytes, split feeding agrees with whole feeding (events or the same error)."""

    def run(chunks: list[bytes]) -> list[SseEvent] | str:
        try:
            return decode(chunks)
        except DialectError as exc:
            return str(exc)

    points = [0, *sorted(min(c, len(stream)) for c in cuts), len(stream)]
    assert run([stream[a:b] for a, b in zip(points, points[1:], strict=False)]) == run([stream])


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"\xef\xbb\xbfdata: x\n\n", [(None, "x", None, None)]),
        (b"data:  two spaces\n\n", [(None, " two spaces", None, None)]),
        (b"data: a\ndata:\ndata: b\n\n", [(None, "a\n\nb", None, None)]),
        (b"event: e\nfoo: bar\n\n", [("e", None, None, None)]),
        (b"retry: 1x\ndata: d\n\n", [(None, "d", None, None)]),
        (b"event:\nid:\ndata: d\n\n", [("", "d", "", None)]),
        (b"data: x:y\n\n", [(None, "x:y", None, None)]),
        (b"data: x\r\n\r\n", [(None, "x", None, None)]),
        (b"", []),
        (b"\n\r\n  \n", []),
        (b"data: x\n\n\n \n", [(None, "x", None, None)]),
    ],
)
def test_parsing_rules(
    stream: bytes, expected: list[tuple[str | None, str | None, str | None, int | None]]
) -> None:
    """WHATWG field rules: BOM, one stripped space, joined data, unknown fields, bad retry."""
    assert fields(decode([stream])) == expected


@pytest.mark.parametrize(
    ("stream", "raw"),
    [
        (b": the text of a comment\n\n", [b":\n\n"]),
        (b":\r\n\r\n", [b":\r\n\r\n"]),
        (b"data: x\n: note\r\nfoo: words of a poem\n\n", [b"data: x\n:\r\n\n"]),
        (b"words of a poem\ndata: x\n\n", [b"data: x\n\n"]),
        (b'{"choices": [{"message": {"content": "a poem"}}]}\n\n', [b"\n"]),
        (b"event: response.output_text.delta\nid: 7\ndata: x\n\n", None),
    ],
)
def test_unread_text_is_not_passed_on(stream: bytes, raw: list[bytes] | None) -> None:
    """Comment text and unknown fields never reach ``raw``; names and data stay byte for byte."""
    events = decode([stream])
    assert [e.raw for e in events] == ([stream] if raw is None else raw)
    split = decode([stream[i : i + 1] for i in range(len(stream))])
    assert [e.raw for e in split] == [e.raw for e in events]


@pytest.mark.parametrize(
    "stream",
    [
        b"event: words of a poem\ndata: x\n\n",
        b"id: words of a poem\ndata: x\n\n",
        b"id: a\x00b\ndata: x\n\n",
        b"event: " + b"e" * 257 + b"\ndata: x\n\n",
    ],
)
def test_event_names_and_ids_hold_no_text(stream: bytes) -> None:
    """An event name or id with spaces, control characters or over 256 bytes is malformed."""
    with pytest.raises(DialectError, match="spaces or control characters"):
        decode([stream])


def test_cr_at_end_of_feed_waits_for_lf() -> None:
    """A trailing CR is resolved by the next feed, so CRLF split between feeds is one ending."""
    dec = SseDecoder()
    assert dec.feed(b"data: x\r\n\r") == []
    (event,) = dec.feed(b"\ndata: y")
    assert event.raw == b"data: x\r\n\r\n"
    assert dec.feed(b"\r") == []
    assert dec.feed(b"\r") == []
    (event,) = dec.feed(b"\n")
    assert (event.data, event.raw) == ("y", b"data: y\r\r\n")
    assert dec.flush() == []


@pytest.mark.parametrize(
    "tail", [b"data: x", b"data: x\n", b": ping\n", b"data: x\r", b'{"choices": []}', b"foo: x\n"]
)
def test_truncated_stream_raises_on_flush(tail: bytes) -> None:
    """A stream that stops inside an event is an error at flush()."""
    dec = SseDecoder()
    assert fields(dec.feed(b"data: a\n\n" + tail)) == [(None, "a", None, None)]
    with pytest.raises(DialectError, match="stream ended inside an event"):
        dec.flush()


def test_flush_dispatches_final_cr() -> None:
    """A final lone CR held back by feed() is a line ending at flush()."""
    dec = SseDecoder()
    assert dec.feed(b"data: x\r\r") == []
    assert fields(dec.flush()) == [(None, "x", None, None)]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: " + b"x" * 100 + b"\n\n"],
        [b"data: " + b"x" * 50, b"x" * 50],
        [b"data: x\n" * 20],
        [b"data: " + b"x" * 100 + b"\r"],
    ],
)
def test_event_size_limit(chunks: list[bytes]) -> None:
    """An event over max_event_bytes raises, whether it arrives whole or in pieces."""
    dec = SseDecoder(max_event_bytes=64)
    with pytest.raises(DialectError, match="64 bytes"):
        for chunk in chunks:
            dec.feed(chunk)


def test_limit_is_per_event() -> None:
    """Many small events in one feed are fine under a small limit."""
    assert len(decode([b"data: 12345\n\n" * 100], max_event_bytes=20)) == 100


def test_invalid_utf8_raises() -> None:
    """A field that is not UTF-8 is a DialectError."""
    with pytest.raises(DialectError, match="UTF-8"):
        decode([b"data: \xff\n\n"])


@pytest.mark.parametrize(
    ("data", "event", "encoded"),
    [
        ("x", None, b"data: x\n\n"),
        (b'{"a":1}', "delta", b'event: delta\ndata: {"a":1}\n\n'),
        ("a\nb\r\nc", None, b"data: a\ndata: b\ndata: c\n\n"),
        ("", None, b"data: \n\n"),
    ],
)
def test_encode_roundtrip(data: str | bytes, event: str | None, encoded: bytes) -> None:
    """encode_sse writes one data line per line, and the decoder reads it back."""
    assert encode_sse(data, event) == encoded
    (decoded,) = decode([encoded])
    assert decoded.event == event
    assert decoded.data is not None
    text = data.decode() if isinstance(data, bytes) else data
    assert decoded.data == text.replace("\r\n", "\n")


PIECES = [
    b"data: x\n\n",
    b"data:y\n\n",
    b"data:  two\n\n",
    b"data: \xc3\xa9\n\n",
    b"data: \xff\n\n",
    b"data: x\n\ndata: y\n\n",
    b": c\n\n",
    b"data: a\ndata: b\n\n",
    b"event: e\ndata: z\n\n",
    b"\n\n",
    b"data: x\r\n\r\n",
    b"data: " + b"q" * 60 + b"\n\n",
    b"data: partial",
    b"\n",
    b"id: 3\n",
]


@given(st.lists(st.sampled_from(PIECES), max_size=10))
def test_whole_event_reads_agree_with_byte_by_byte(pieces: list[bytes]) -> None:
    """Reads of whole ``data:`` events (the decoder's short cut) decode like any other split."""

    def run(chunks: list[bytes]) -> list[SseEvent] | str:
        try:
            return decode(chunks, max_event_bytes=64)
        except DialectError as exc:
            return str(exc)

    stream = b"data: first\n\n" + b"".join(pieces)
    assert run([b"data: first\n\n", *pieces]) == run([bytes([b]) for b in stream])
