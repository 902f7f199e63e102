"""Google Gemini (``models/{model}:generateContent``, ``:streamGenerateContent``).

Stream keys: ``"{c}"`` for the text parts of candidate ``c``, ``"{c}/thought"`` for its thought
parts; a candidate's parts over all events are one stream each.  Other parts (function calls,
code) are not held back: their strings are checked as strays.  A stream is SSE (``alt=sse``)
or one JSON array sent piece by piece, told apart by its first byte; events the guard left
alone are forwarded byte for byte.  Text still held when a candidate's ``finishReason`` comes
goes into that event, the report into the event that finishes the last candidate.

A block ends the response in one event: every unfinished candidate gets ``finishReason:
"RECITATION"`` (Gemini's own reason for reproduced text), with the report and the last
``usageMetadata`` seen.  ``logprobsResult`` (token texts) is dropped where text changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import DialectError, JsonObject, StreamRewriter, TextFilter
from proxy.dialects.jsonarray import JsonArrayDecoder
from proxy.dialects.sse import SseDecoder, encode_sse

_PART: Fields = {
    "text": None, "thought": None, "thoughtSignature": None, "inlineData": ..., "fileData": ...,
    "videoMetadata": ..., "functionCall": {"id": None, "name": None},
}  # fmt: skip
_CANDIDATE: Fields = {
    "content": {"role": None, "parts": {"*": _PART}}, "finishReason": None, "index": None,
    "safetyRatings": ..., "citationMetadata": ..., "tokenCount": None, "avgLogprobs": None,
    "logprobsResult": ...,
}  # fmt: skip
FIELDS: Fields = {
    "candidates": {"*": _CANDIDATE}, "usageMetadata": ..., "modelVersion": None,
    "responseId": None, "createTime": None, "copyguard": ..., "error": {"status": None},
    "promptFeedback": {"blockReason": None, "safetyRatings": ...},
}  # fmt: skip
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
           502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}  # fmt: skip
BLOCKED = "RECITATION"


def _loads(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DialectError(f"invalid JSON from upstream: {exc}") from None


def _error(status: int, message: str) -> JsonObject:
    name = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


class _Texts:
    """The guarded text streams of one response, in place on its candidates."""

    def __init__(self, guard: TextFilter) -> None:
        self.guard = guard
        self.open: dict[int, set[str]] = {}  # candidate index -> its keys
        self.blocked = False

    def apply(self, obj: JsonObject, close: bool) -> bool:
        """Guard ``obj``'s candidates, closing those that finish (all if ``close``)."""
        if not isinstance(obj, dict):
            raise DialectError("expected a JSON object from upstream")
        check_strays(obj, FIELDS, self.guard)
        candidates = obj.get("candidates") or []
        if not isinstance(candidates, list) or not all(isinstance(c, dict) for c in candidates):
            raise DialectError('"candidates" is not a list of objects')
        changed = False
        for position, candidate in enumerate(candidates):
            index = candidate.get("index", position)
            if not isinstance(index, int):
                raise DialectError('"index" is not an integer')
            keys = self.open.setdefault(index, set())
            for part in _parts(candidate):
                text = part.get("text")
                if text is not None:
                    key = f"{index}/thought" if part.get("thought") is True else str(index)
                    keys.add(key)
                    out = self.guard.push(key, text)
                    if out != text:
                        part["text"], changed = out, True
                    self.blocked = self.blocked or self.guard.blocked(key)
            if close or "finishReason" in candidate:
                changed = self._close(index, candidate) or changed
            if changed:
                candidate.pop("logprobsResult", None)
        return changed

    def end(self, obj: JsonObject) -> bool:
        """Close every open candidate into ``obj``; on a block they end with RECITATION."""
        entries = {c.get("index", i): c for i, c in enumerate(obj.setdefault("candidates", []))}
        changed = False
        for index in sorted(self.open):
            candidate = entries.get(index)
            if candidate is None:
                candidate = {"content": {"parts": [], "role": "model"}, "index": index}
                obj["candidates"].append(candidate)
            changed = self._close(index, candidate) or changed
            if self.blocked:
                candidate["finishReason"], changed = BLOCKED, True
        return changed

    def _close(self, index: int, candidate: JsonObject) -> bool:
        changed = False
        for key in sorted(self.open.pop(index, ())):
            was_blocked = self.guard.blocked(key)
            rest = self.guard.close(key)
            if self.guard.blocked(key):
                self.blocked, candidate["finishReason"], changed = True, BLOCKED, True
            if rest and not was_blocked:
                thought = key.endswith("/thought")
                same = [p for p in _parts(candidate) if (p.get("thought") is True) == thought]
                if same and isinstance(same[-1].get("text"), str):
                    same[-1]["text"] += rest
                else:
                    _parts(candidate).append(
                        {"text": rest, **({"thought": True} if thought else {})}
                    )
                changed = True
        return changed


def _parts(candidate: JsonObject) -> list[JsonObject]:
    content = candidate.setdefault("content", {"parts": [], "role": "model"})
    parts = content.setdefault("parts", []) if isinstance(content, dict) else None
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise DialectError('"content.parts" is not a list of objects')
    return parts


class _GeminiStream:
    """One streamed response, SSE or a JSON array: bytes in, guarded bytes out."""

    def __init__(self, guard: TextFilter, max_event_bytes: int = 1 << 20) -> None:
        self._guard = guard
        self._texts = _Texts(guard)
        self._max = max_event_bytes
        self._decoder: SseDecoder | JsonArrayDecoder | None = None
        self._head = b""  # leading whitespace, until the first byte tells the framing
        self._array = False
        self._opened = False  # an event was sent (in an array: its "[")
        self._usage: Any = None
        self._reported = False
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, data: bytes) -> bytes:
        if self._finished:
            return b""
        if self._decoder is None:
            self._head += data
            start = self._head.lstrip()[:1]
            if not start:
                return b""
            self._array = start == b"["
            self._decoder = JsonArrayDecoder(self._max) if self._array else SseDecoder(self._max)
            data, self._head = self._head, b""
        return self._run(self._decoder.feed(data))

    def flush(self) -> bytes:
        if self._finished:
            return b""
        out = self._run(self._decoder.flush()) if self._decoder is not None else b""
        if self._finished:
            return out
        if self._opened and not self._texts.open and not self._array:
            return out + self._end()  # SSE has no last event: every candidate finished
        return out + self.fail("upstream stream ended before every candidate finished")

    def fail(self, message: str) -> bytes:
        if self._finished:
            return b""
        return self._end(error=_error(500, message))

    def _run(self, items: Iterable[Any]) -> bytes:
        out = bytearray()
        for item in items:
            if self._finished:
                break
            raw, value = item.raw, item.value if self._array else item.data
            if value is None:  # a comment, or the array's punctuation
                closed = isinstance(self._decoder, JsonArrayDecoder) and self._decoder.closed
                out += self._end(closing=raw) if closed else raw
                continue
            obj = _loads(value)
            changed = self._texts.apply(obj, close=False)
            self._opened = True
            self._usage = obj.get("usageMetadata", self._usage)
            if "error" in obj:
                out += self._end(upstream=raw)
                continue
            if self._texts.blocked:
                self._texts.end(obj)
                if self._usage is not None:
                    obj["usageMetadata"] = self._usage
                self._finished = changed = True
            if self._texts.blocked or not self._texts.open:
                changed = self._report(obj) or changed
            if changed:
                out += self._encode(obj, item.prefix if self._array else None)
            else:
                out += raw
            if self._finished and self._array:
                out += b"]"
        return bytes(out)

    def _report(self, obj: JsonObject) -> bool:
        """Attach the report (once) to ``obj``; True if it was."""
        report = None if self._reported else self._guard.report()
        self._reported = self._reported or report is not None
        if report is not None:
            obj["copyguard"] = report
        return report is not None

    def _end(
        self, error: JsonObject | None = None, upstream: bytes = b"", closing: bytes = b""
    ) -> bytes:
        """Settle every stream (held text and the report in one event), then end the stream
        with the upstream's error event, our ``error`` or the array's closing bytes."""
        last: JsonObject = {}
        changed = self._texts.end(last)
        if self._texts.blocked and self._usage is not None:
            last["usageMetadata"] = self._usage
        out = self._encode(last) if self._report(last) or changed else b""
        if not self._texts.blocked:
            out += upstream if error is None else self._encode(error)
        self._finished = True
        if self._array:
            out += closing or (b"]" if self._opened else b"[]")
        return out

    def _encode(self, obj: JsonObject, prefix: bytes | None = None) -> bytes:
        data = orjson.dumps(obj)
        if not self._array:
            return encode_sse(data)
        if prefix is None:
            prefix = b"," if self._opened else b"["
        self._opened = True
        return prefix + data


class _Gemini:
    """What both routes share: one response shape, streamed or whole."""

    name = "gemini"
    stream_media_type = "text/event-stream"
    _stream = False

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        """The route, not the body, says whether to stream."""
        return self._stream

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> StreamRewriter:
        return _GeminiStream(guard, max_event_bytes)

    def rewrite_body(self, body: bytes, guard: TextFilter) -> bytes:
        """Guard one response, or a whole JSON-array stream (sent as ``application/json``)."""
        if body.lstrip()[:1] == b"[":
            stream = _GeminiStream(guard, max(len(body), 1))
            out = stream.feed(body) + stream.flush()
            return body if out == body else out
        obj = _loads(body)
        texts = _Texts(guard)
        changed = texts.apply(obj, close=True)
        if "error" in obj:
            return body
        if texts.blocked or guard.report() is not None:
            report = guard.report()
            if report is not None:
                obj["copyguard"] = report
            changed = True
        return orjson.dumps(obj) if changed else body

    def error_body(self, status: int, message: str) -> bytes:
        return orjson.dumps(_error(status, message))


def _paths(method: str) -> tuple[str, ...]:
    return tuple(f"/{v}/{kind}/{{model}}:{method}" for v in ("v1beta", "v1")
                 for kind in ("models", "tunedModels"))  # fmt: skip


class GeminiGenerate(_Gemini):
    """``POST /v1beta/models/{model}:generateContent``: one response."""

    paths = _paths("generateContent")


class GeminiStream(_Gemini):
    """``POST /v1beta/models/{model}:streamGenerateContent``: SSE or a JSON array."""

    paths = _paths("streamGenerateContent")
    _stream = True
