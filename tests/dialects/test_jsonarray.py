"""Tests for the streamed JSON array splitter."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.dialects.base import DialectError
from proxy.dialects.jsonarray import AnyJsonStream, ArrayItem, JsonArrayDecoder

# The layout Gemini sends (pretty-printed elements, "\r\n" between), with every awkward string.
SAMPLE = (
    b'[{\n  "a": "h\xc3\xa9 ]}"\n}\n,\r\n{"b": [1, {"c": "\\"}{["}], "d": "\\\\"}\n'
    b',\r\n{"e": {}}\n]\n'
)
VALUES = [{"a": "hé ]}"}, {"b": [1, {"c": '"}{['}], "d": "\\"}, {"e": {}}]


def decode(chunks: list[bytes], max_item_bytes: int = 1 << 20) -> list[ArrayItem]:
    dec = JsonArrayDecoder(max_item_bytes)
    items: list[ArrayItem] = []
    for chunk in chunks:
        items += dec.feed(chunk)
    assert dec.closed
    return items + dec.flush()


def check(items: list[ArrayItem]) -> None:
    assert b"".join(i.raw for i in items) == SAMPLE
    assert [orjson.loads(i.value) for i in items if i.value is not None] == VALUES
    assert [i.prefix for i in items] == [b"[", b"\n,\r\n", b"\n,\r\n", b"\n]", b"\n"]


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_every_split(cut: int) -> None:
    """Any split point gives the same elements, with every byte between them kept."""
    check(decode([SAMPLE[:cut], SAMPLE[cut:]]))


def test_byte_by_byte() -> None:
    """One byte at a time gives the same elements (escapes split from what they escape)."""
    check(decode([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]))


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_unread_is_what_no_item_holds(cut: int) -> None:
    """After any feed, the items returned and ``unread()`` are exactly the bytes fed."""
    for decoder in (JsonArrayDecoder(), AnyJsonStream(1 << 10)):
        items = decoder.feed(SAMPLE[:cut])
        raws = b"".join(i.raw for i in items if isinstance(i, ArrayItem))
        assert raws + decoder.unread() == SAMPLE[:cut]


@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=10))
def test_any_split_is_whole(cuts: list[int]) -> None:
    """Any set of split points gives the elements of the whole stream."""
    points = [0, *sorted(cuts), len(SAMPLE)]
    check(decode([SAMPLE[a:b] for a, b in zip(points, points[1:], strict=False)]))


def test_items_come_as_soon_as_complete() -> None:
    """An element is returned by the feed that completes it; flush returns what follows ``]``."""
    dec = JsonArrayDecoder()
    assert dec.feed(b'[{"a":') == []
    assert dec.feed(b'1}, {"b"') == [ArrayItem(b'[{"a":1}', b'{"a":1}')]
    assert dec.feed(b":2}") == [ArrayItem(b', {"b":2}', b'{"b":2}')]
    assert not dec.closed
    assert dec.feed(b"]  ") == [ArrayItem(b"]", None)]
    assert dec.closed
    assert dec.flush() == [ArrayItem(b"  ", None)]
    assert dec.flush() == []


def test_empty_array() -> None:
    """``[]`` is a complete stream with no elements."""
    assert decode([b" [ ", b"]"]) == [ArrayItem(b" [ ]", None)]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{}", "'{' where one of b'\\['"),
        (b"[1]", "'1' where"),
        (b'[{"a":1}{"b":2}]', "'{' where one of b',\\]'"),
        (b'[{"a":1},]', "'\\]' where one of b'{'"),
        (b"[{}] x", "'x' where the end of the stream"),
    ],
)
def test_bad_punctuation(data: bytes, match: str) -> None:
    """Bytes outside the array's punctuation raise, naming what belonged there."""
    with pytest.raises(DialectError, match=match):
        JsonArrayDecoder().feed(data)


def test_cut_inside_an_element() -> None:
    """A stream cut inside an element raises at flush; one cut between gives back the rest."""
    dec = JsonArrayDecoder()
    dec.feed(b'[{"a": "}')
    with pytest.raises(DialectError, match="inside an element"):
        dec.flush()
    between = JsonArrayDecoder()
    between.feed(b'[{"a": 1},')
    assert between.flush() == [ArrayItem(b",", None)] and not between.closed


@pytest.mark.parametrize("chunks", [[b'[{"a":"' + b"x" * 20 + b'"}]'], [b"[{", b"x" * 20]])
def test_element_limit(chunks: list[bytes]) -> None:
    """An element over max_item_bytes raises, complete or still pending."""
    with pytest.raises(DialectError, match="16 bytes"):
        decode(chunks, max_item_bytes=16)


@pytest.mark.parametrize(
    ("data", "kind", "values"),
    [
        (b' \r\n [{"a": 1}\n]', "array", [b'{"a": 1}']),
        (b'\n{"a": 1}\n', "whole", [b'\n{"a": 1}\n']),
        (b'\ndata: {"a": 1}\n\n', "sse", ['{"a": 1}']),
    ],
    ids=["array", "whole", "sse"],
)
def test_any_json_stream_tells_the_framing_by_its_first_byte(
    data: bytes, kind: str, values: list[Any]
) -> None:
    """Whitespace first (split anywhere), then "[" is an array, "{" one object, else SSE."""
    for cut in range(len(data) + 1):
        dec = AnyJsonStream(1 << 10)
        events = [*dec.feed(data[:cut]), *dec.feed(data[cut:]), *dec.flush()]
        got = [e.value if isinstance(e, ArrayItem) else e.data for e in events]
        assert dec.kind == kind and [v for v in got if v is not None] == values
        assert dec.closed is (kind == "array")


def test_any_json_stream_bounds_a_whole_object() -> None:
    """One object is held whole until the end, but never past the bound."""
    dec = AnyJsonStream(16)
    dec.feed(b'{"a": "')
    with pytest.raises(DialectError, match="16 bytes"):
        dec.feed(b"x" * 16)
