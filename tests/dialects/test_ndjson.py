"""Tests for the NDJSON line decoder and encoder."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.dialects.base import DialectError
from proxy.dialects.ndjson import NdjsonDecoder, encode_ndjson

SAMPLE = b'{"a":"h\xc3\xa9"}\n\n{"b":2}\r\n  \n{"c":3}\n{"d":4}'
EXPECTED = [b'{"a":"h\xc3\xa9"}\n', b'{"b":2}\r\n', b'{"c":3}\n', b'{"d":4}']


def decode(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> list[bytes]:
    dec = NdjsonDecoder(max_line_bytes)
    out: list[bytes] = []
    for chunk in chunks:
        out += dec.feed(chunk)
    return out + dec.flush()


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_every_split(cut: int) -> None:
    """Any split point gives the same lines: endings kept, blank lines dropped, last line kept."""
    assert decode([SAMPLE[:cut], SAMPLE[cut:]]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=10))
def test_any_split_is_whole(cuts: list[int]) -> None:
    """Any set of split points gives the lines of the whole stream."""
    points = [0, *sorted(cuts), len(SAMPLE)]
    assert decode([SAMPLE[a:b] for a, b in zip(points, points[1:], strict=False)]) == EXPECTED


def test_feed_returns_lines_as_soon_as_complete() -> None:
    """A line is returned by the feed that completes it, not later."""
    dec = NdjsonDecoder()
    assert dec.feed(b'{"a":') == []
    assert dec.feed(b'1}\n{"b"') == [b'{"a":1}\n']
    assert dec.flush() == [b'{"b"']
    assert dec.flush() == []


@pytest.mark.parametrize(
    "chunks", [[b"x" * 20 + b"\n"], [b"x" * 10, b"x" * 10], [b"{}\n" + b"x" * 17]]
)
def test_line_limit(chunks: list[bytes]) -> None:
    """A line over max_line_bytes raises, complete or still pending."""
    with pytest.raises(DialectError, match="16 bytes"):
        decode(chunks, max_line_bytes=16)


def test_encode() -> None:
    """encode_ndjson writes compact JSON and a newline that decodes back."""
    line = encode_ndjson({"text": "é", "n": [1, 2]})
    assert line == '{"text":"é","n":[1,2]}\n'.encode()
    assert [orjson.loads(x) for x in decode([line])] == [{"text": "é", "n": [1, 2]}]
