"""Newline-delimited JSON: an incremental line splitter and an encoder."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.dialects.base import DialectError


class NdjsonDecoder:
    """Splits a byte stream (split anywhere) into complete lines; ``feed()`` then ``flush()``.

    Lines keep their ending (``\\n`` or ``\\r\\n``) so untouched lines can be forwarded byte
    for byte; blank lines are dropped.  A line longer than ``max_line_bytes`` raises.
    """

    def __init__(self, max_line_bytes: int = 1 << 20) -> None:
        self._max = max_line_bytes
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes; return the complete non-blank lines they finish."""
        self._pending += data
        if b"\n" not in data:
            self._check(len(self._pending))
            return []
        buf = bytes(self._pending)
        end = buf.rfind(b"\n") + 1
        self._pending = bytearray(buf[end:])
        self._check(len(self._pending))
        lines: list[bytes] = []
        for part in buf[:end].split(b"\n")[:-1]:
            self._check(len(part))
            if part.strip():
                lines.append(part + b"\n")
        return lines

    def unread(self) -> bytes:
        """The line under way (no newline yet)."""
        return bytes(self._pending)

    def flush(self) -> list[bytes]:
        """End of stream: return a final line that had no newline (if not blank)."""
        rest = bytes(self._pending)
        self._pending.clear()
        return [rest] if rest.strip() else []

    def _check(self, size: int) -> None:
        if size > self._max:
            raise DialectError(f"NDJSON line longer than {self._max} bytes")


def encode_ndjson(obj: Any) -> bytes:
    """One JSON value as a line: compact orjson bytes plus ``\\n``."""
    return orjson.dumps(obj) + b"\n"
