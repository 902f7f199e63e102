"""Server-sent events: an incremental decoder and an encoder (WHATWG rules, bytes in and out).

The decoder keeps each event's exact bytes (``SseEvent.raw``) so that a proxy can forward
untouched events byte for byte; concatenating the ``raw`` of every event returns the input,
except for trailing whitespace at the end of the stream and for what no client reads and a
proxy must not pass on unread: the text of comments (a comment line is kept as a bare ``:``,
which still keeps a connection alive) and lines of unknown fields (dropped).  Event names and
ids must be printable ASCII without spaces.  Blank lines that end no event (extra separators)
and a leading BOM are kept in the ``raw`` of the next event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from proxy.dialects.base import DialectError

_BOM = b"\xef\xbb\xbf"
_NEWLINES = re.compile(r"\r\n|\r|\n")
_TOKEN = re.compile(r"[!-~]{0,256}")  # what an event name or id may be: no text hides in it


@dataclass(slots=True)
class SseEvent:
    """One dispatched event (or a comment-only block such as a keep-alive)."""

    raw: bytes
    event: str | None
    data: str | None
    id: str | None = None
    retry: int | None = None


class SseDecoder:
    """Turns a byte stream split anywhere into ``SseEvent``s; ``feed()`` then ``flush()``."""

    def __init__(self, max_event_bytes: int = 1 << 20) -> None:
        self._max = max_event_bytes
        self._pending = bytearray()  # an incomplete line (or a final "\r" that may precede "\n")
        self._at_start = True  # a BOM may still come
        self._bom = False  # the next line starts with the stream's BOM
        self._reset_event()

    def _reset_event(self) -> None:
        self._raw: list[bytes] = []
        self._size = 0
        self._fields = False  # any non-blank line (field or comment) seen in this event
        self._dropped = False  # an unknown field (not just spaces) was left out of ``raw``
        self._event: str | None = None
        self._data: list[str] | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, data: bytes) -> list[SseEvent]:
        """Take the next bytes; return the events they complete."""
        if not data:
            return []
        if not (self._pending or self._raw or self._at_start or self._bom):
            events = self._whole_data_events(data)
            if events is not None:
                return events
        held_cr = self._pending.endswith(b"\r")
        self._pending += data
        if self._at_start:
            if len(self._pending) < len(_BOM) and _BOM.startswith(self._pending):
                return []
            self._at_start = False
            self._bom = self._pending.startswith(_BOM)
        if not held_cr and b"\n" not in data and b"\r" not in data:
            self._check_size(len(self._pending))
            return []
        buf = bytes(self._pending)
        if buf.endswith(b"\r"):  # maybe the first half of "\r\n": decide on the next feed
            events = self._lines(buf[:-1])
            self._pending += b"\r"
            self._check_size(len(self._pending))
            return events
        return self._lines(buf)

    def _whole_data_events(self, data: bytes) -> list[SseEvent] | None:
        """The events of ``data`` if it is nothing but whole one-line ``data:`` events.

        The usual upstream read (one or a few ``data: {...}\\n\\n`` events, nothing
        pending) decoded without the line machinery; None for anything else, which then
        takes the general path.  Called only between events (nothing pending or half-read).
        """
        if not data.endswith(b"\n\n") or b"\r" in data:
            return None
        if data.count(b"\n") == 2 and data.startswith(b"data:"):  # one event: the usual read
            if len(data) > self._max:
                raise DialectError(f"server-sent event larger than {self._max} bytes")
            try:
                text = (data[6:-2] if data[5:6] == b" " else data[5:-2]).decode()
            except UnicodeDecodeError as exc:
                raise DialectError(f"server-sent event is not valid UTF-8: {exc}") from None
            return [SseEvent(data, None, text)]
        blocks = data[:-2].split(b"\n\n")
        for block in blocks:
            if not block.startswith(b"data:") or b"\n" in block:
                return None
        events = []
        for block in blocks:
            if len(block) + 2 > self._max:
                raise DialectError(f"server-sent event larger than {self._max} bytes")
            value = block[6:] if block[5:6] == b" " else block[5:]
            try:
                text = value.decode()
            except UnicodeDecodeError as exc:
                raise DialectError(f"server-sent event is not valid UTF-8: {exc}") from None
            raw = data if len(blocks) == 1 else block + b"\n\n"
            events.append(SseEvent(raw, None, text))
        return events

    def unread(self) -> bytes:
        """The bytes of the event under way, as they would be passed on (comments emptied)."""
        if not self._pending and not self._raw:  # between events: the usual case
            return b""
        return b"".join(self._raw) + bytes(self._pending)

    def flush(self) -> list[SseEvent]:
        """End of stream: return the last events; raise if it stopped inside an event."""
        if self._at_start:
            self._bom = self._pending.startswith(_BOM)
        events = self._lines(bytes(self._pending))
        leftover = b"".join(self._raw) + bytes(self._pending)
        inside = self._dropped  # an event under way, even if none of its lines is passed on
        self._pending.clear()
        self._reset_event()
        self._at_start, self._bom = True, False
        if inside or leftover.removeprefix(_BOM).strip():
            raise DialectError("stream ended inside an event")
        return events

    def _check_size(self, pending: int) -> None:
        if self._size + pending > self._max:
            raise DialectError(f"server-sent event larger than {self._max} bytes")

    def _lines(self, buf: bytes) -> list[SseEvent]:
        events: list[SseEvent] = []
        lines = buf.splitlines(keepends=True)
        self._pending.clear()
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self._pending += lines.pop()
        for line in lines:
            self._size += len(line)
            self._check_size(0)
            content = line.rstrip(b"\r\n")
            if self._bom:
                self._bom = False
                content = content.removeprefix(_BOM)
            if not content:
                self._raw.append(line)
                if self._fields:
                    events.append(self._dispatch())
            elif self._field(content):
                self._raw.append(line)
            elif content[0] == 0x3A:  # a comment: its text goes, the keep-alive stays
                self._raw.append(b":" + line[len(line.rstrip(b"\r\n")) :])
            else:
                self._dropped = self._dropped or bool(content.strip())
        self._check_size(len(self._pending))
        return events

    def _field(self, line: bytes) -> bool:
        """Take one field line; False if it is not to be passed on as it is."""
        self._fields = True
        if line[0] == 0x3A:  # ":" comment
            return line == b":"
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        try:
            field, text = name.decode(), value.decode()
        except UnicodeDecodeError as exc:
            raise DialectError(f"server-sent event is not valid UTF-8: {exc}") from None
        if field == "data":
            if self._data is None:
                self._data = [text]
            else:
                self._data.append(text)
        elif field in ("event", "id"):
            if not _TOKEN.fullmatch(text):
                raise DialectError(f"a server-sent event {field} with spaces or control characters")
            if field == "event":
                self._event = text
            else:
                self._id = text
        elif field == "retry" and text.isascii() and text.isdigit():
            self._retry = int(text)
        else:
            return False  # unknown fields are ignored by clients: nothing to forward
        return True

    def _dispatch(self) -> SseEvent:
        data = None if self._data is None else "\n".join(self._data)
        event = SseEvent(b"".join(self._raw), self._event, data, self._id, self._retry)
        self._reset_event()
        return event


def encode_json(obj: object, event: str | None = None) -> bytes:
    """One event whose data is ``obj`` as compact JSON (one line: JSON escapes newlines)."""
    line = b"data: " + orjson.dumps(obj) + b"\n\n"
    return line if event is None else f"event: {event}\n".encode() + line


def encode_sse(data: str | bytes, event: str | None = None) -> bytes:
    """Encode one event: an optional ``event:`` line, one ``data:`` line per line of data."""
    if isinstance(data, bytes) and b"\n" not in data and b"\r" not in data:
        data.decode()  # the same UnicodeDecodeError as below for bytes that are not UTF-8
        line = b"data: " + data + b"\n\n"
        return line if event is None else f"event: {event}\n".encode() + line
    text = data.decode() if isinstance(data, bytes) else data
    head = f"event: {event}\n" if event is not None else ""
    if "\n" not in text and "\r" not in text:
        return f"{head}data: {text}\n\n".encode()
    body = "".join(f"data: {line}\n" for line in _NEWLINES.split(text))
    return f"{head}{body}\n".encode()
