"""A streamed JSON array (``[{...},{...}]`` sent piece by piece): an incremental splitter.

Gemini's ``streamGenerateContent`` without ``alt=sse`` sends its responses this way
(``AnyJsonStream`` tells that from SSE).  The
decoder finds where each element ends without parsing it (brackets and strings only; the
element's own JSON is checked by whoever parses it) and keeps the exact bytes between
elements, so untouched elements can be forwarded byte for byte: joining the ``raw`` of every
item returns the input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.dialects.base import DialectError
from proxy.dialects.sse import SseDecoder, SseEvent

_SPACE = frozenset(b" \t\r\n")
_STRUCTURE = re.compile(rb'[][{}"]')  # what changes the nesting outside a string
_STRING_END = re.compile(rb'["\\]')


@dataclass(slots=True)
class ArrayItem:
    """One element with the separator bytes before it, or (``value`` None) only punctuation.

    ``raw`` ends with the element (``value`` is its tail); the closing ``]`` and what follows
    it come as items without a value.
    """

    raw: bytes
    value: bytes | None

    @property
    def prefix(self) -> bytes:
        """The bytes before the element (``[``, ``,``, whitespace)."""
        return self.raw[: len(self.raw) - len(self.value or b"")]


class JsonArrayDecoder:
    """Splits a JSON array of objects, split anywhere, into its elements.

    ``feed()`` then ``flush()``; an element longer than ``max_item_bytes``, an element that is
    not an object or bytes outside the array's punctuation raise ``DialectError``.
    """

    def __init__(self, max_item_bytes: int = 1 << 20) -> None:
        self._max = max_item_bytes
        self._buf = bytearray()
        self._pos = 0  # scanned up to here
        self._start = -1  # where the element being scanned begins (-1: between elements)
        self._depth = 0
        self._in_string = False
        self._expect = b"["  # between elements, what may come next: "[", "{]", "{", ",]", ""

    @property
    def closed(self) -> bool:
        """True once the array's closing ``]`` was read."""
        return self._expect == b""

    def feed(self, data: bytes) -> list[ArrayItem]:
        """Take the next bytes; return the items they complete."""
        self._buf += data
        items: list[ArrayItem] = []
        while (item := self._next()) is not None:
            items.append(item)
        if len(self._buf) > self._max:
            raise DialectError(f"JSON array element longer than {self._max} bytes")
        return items

    def unread(self) -> bytes:
        """The bytes after the last item returned (the element under way, its separator)."""
        return bytes(self._buf)

    def flush(self) -> list[ArrayItem]:
        """End of stream: the bytes after ``]``; raises if an element was cut off."""
        if self._start >= 0:
            raise DialectError("the JSON array stream ended inside an element")
        rest, self._buf, self._pos = bytes(self._buf), bytearray(), 0
        return [ArrayItem(rest, None)] if rest else []

    def _next(self) -> ArrayItem | None:
        buf, pos = self._buf, self._pos
        while self._start < 0:  # between elements: whitespace and punctuation only
            if pos >= len(buf):
                self._pos = pos
                return None
            byte = buf[pos]
            if byte in _SPACE:
                pos += 1
            elif byte in self._expect:
                pos += 1
                if byte == ord("]"):
                    self._expect = b""
                    return self._cut(pos, None)
                if byte == ord("{"):
                    self._start = pos = pos - 1
                    break
                self._expect = b"{]" if byte == ord("[") else b"{"
            else:
                what = "the end of the stream" if not self._expect else f"one of {self._expect!r}"
                raise DialectError(f"JSON array stream: {chr(byte)!r} where {what} belongs")
        while pos < len(buf):
            if self._in_string:
                found = _STRING_END.search(buf, pos)
                if found is None:
                    pos = len(buf)
                    break
                pos = found.start()
                if buf[pos] == ord("\\"):
                    if pos + 1 >= len(buf):
                        break  # the escaped byte has not arrived: look again from here
                    pos += 2
                else:
                    self._in_string, pos = False, pos + 1
                continue
            found = _STRUCTURE.search(buf, pos)
            if found is None:
                pos = len(buf)
                break
            byte, pos = buf[found.start()], found.start() + 1
            if byte == ord('"'):
                self._in_string = True
            elif byte in b"[{":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    if pos - self._start > self._max:
                        break  # ``feed`` raises: the element is over the bound
                    value = bytes(buf[self._start : pos])
                    self._start, self._expect = -1, b",]"
                    return self._cut(pos, value)
        self._pos = pos
        return None

    def _cut(self, end: int, value: bytes | None) -> ArrayItem:
        item = ArrayItem(bytes(self._buf[:end]), value)
        del self._buf[:end]  # cheap: a bytearray drops its head without copying the rest
        self._pos = 0
        return item


class AnyJsonStream:
    """A stream that is SSE, a JSON array or one JSON object, told by its first byte.

    For an API that streams either way (Gemini: with ``alt=sse`` or without) and a server
    that answers a stream request with one body.  ``kind`` says which once known; events are
    ``SseEvent``s or ``ArrayItem``s (a whole object is one item at ``flush``).
    """

    def __init__(self, max_bytes: int) -> None:
        self.kind = ""  # "sse", "array" or "whole" once the first byte came
        self._max = max_bytes
        self._head = bytearray()  # until the framing is known, or the whole object
        self._inner: SseDecoder | JsonArrayDecoder | None = None

    def feed(self, data: bytes) -> Sequence[SseEvent | ArrayItem]:
        """Take the next bytes; return the events they complete."""
        if self._inner is not None:
            return self._inner.feed(data)
        self._head += data
        if not self.kind:
            first = bytes(self._head.lstrip()[:1])
            self.kind = {b"": "", b"{": "whole", b"[": "array"}.get(first, "sse")
        if self.kind in ("", "whole"):
            if len(self._head) > self._max:
                raise DialectError(f"upstream answer larger than {self._max} bytes")
            return []
        self._inner = JsonArrayDecoder(self._max) if self.kind == "array" else SseDecoder(self._max)
        data, self._head = bytes(self._head), bytearray()
        return self._inner.feed(data)

    def unread(self) -> bytes:
        """The bytes of the event under way (all so far, until the framing is known)."""
        return bytes(self._head) if self._inner is None else self._inner.unread()

    def flush(self) -> Sequence[SseEvent | ArrayItem]:
        """End of stream: the last events (a whole object comes here, as one item)."""
        if self._inner is not None:
            return self._inner.flush()
        body = bytes(self._head)
        return [ArrayItem(body, body)] if body.strip() else []

    @property
    def closed(self) -> bool:
        """A JSON array's closing ``]`` was read."""
        return isinstance(self._inner, JsonArrayDecoder) and self._inner.closed
