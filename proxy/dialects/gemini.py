"""Google Gemini (``models/{model}:generateContent``, ``:streamGenerateContent``).

Stream keys: ``"{c}"`` for candidate ``c``'s text parts, ``"{c}/thought"`` for its thoughts,
over all events.  Other parts (function calls, code) are checked as strays.  A stream is SSE
(``alt=sse``), a JSON array sent piece by piece, or one response (the server ignored the
stream), told by its first byte; events left alone go out byte for byte.  Held text goes into
the event with the candidate's ``finishReason``, the report into the one finishing the last.
A block ends the response in one event: every unfinished candidate gets ``finishReason:
"RECITATION"`` (Gemini's reason for reproduced text), with the report and the last
``usageMetadata``.  ``logprobsResult`` (token texts) is dropped where text changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.dialects import conversation
from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import Conversation, DialectError, JsonObject, TextFilter
from proxy.dialects.jsonarray import AnyJsonStream, ArrayItem
from proxy.dialects.skeleton import EventStream, JsonDialect, attach_report, load_object
from proxy.dialects.sse import SseEvent, encode_sse

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


def _error(status: int, message: str) -> JsonObject:
    name = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def _parts(candidate: JsonObject, create: bool = True) -> list[JsonObject]:
    """A candidate's ``content.parts`` (made, empty, if missing and ``create``)."""
    content = (candidate.setdefault if create else candidate.get)("content", {"role": "model"})
    if not isinstance(content, dict):
        raise DialectError('"content" is not an object')
    parts = (content.setdefault if create else content.get)("parts", [])
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise DialectError('"content.parts" is not a list of objects')
    return parts


class _Texts:
    """The guarded text streams of one response, in place on its candidates."""

    def __init__(self, guard: TextFilter) -> None:
        self.guard = guard
        self.open: dict[int, set[str]] = {}  # candidate index -> its keys
        self.blocked = False

    def apply(self, obj: JsonObject, close: bool) -> bool:
        """Guard ``obj``'s candidates, closing those that finish (all if ``close``)."""
        candidates = obj.get("candidates", [])
        if not isinstance(candidates, list) or not all(isinstance(c, dict) for c in candidates):
            raise DialectError('"candidates" is not a list of objects')
        changed = False
        for position, candidate in enumerate(candidates):
            index = candidate.get("index", position)
            if not isinstance(index, int):
                raise DialectError('"index" is not an integer')
            parts, keys = _parts(candidate, create=False), self.open.setdefault(index, set())
            before = [p.get("text") for p in parts], candidate.get("finishReason")
            for part in parts:
                if (text := part.get("text")) is not None:
                    if not isinstance(text, str):
                        raise DialectError('a part\'s "text" is not a string')
                    key = f"{index}/thought" if part.get("thought") is True else str(index)
                    keys.add(key)
                    part["text"], blocked = self.guard.push(key, text)
                    self.blocked = self.blocked or blocked
            if close or "finishReason" in candidate:
                self._close(index, candidate)
            if before != ([p.get("text") for p in _parts(candidate, create=False)],
                          candidate.get("finishReason")):  # fmt: skip
                candidate.pop("logprobsResult", None)
                changed = True
        return changed

    def end(self, obj: JsonObject) -> bool:
        """Close every open candidate into ``obj``; after a block they end with RECITATION."""
        entries = {c.get("index", i): c for i, c in enumerate(obj.setdefault("candidates", []))}
        changed = False
        for index in sorted(self.open):
            if (candidate := entries.get(index)) is None:
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
            rest, blocked = self.guard.close(key)
            if blocked:
                self.blocked, candidate["finishReason"], changed = True, BLOCKED, True
            if rest and not was_blocked:
                thought = key.endswith("/thought")
                same = [p for p in _parts(candidate) if (p.get("thought") is True) == thought]
                if same and isinstance(same[-1].get("text"), str):
                    same[-1]["text"] += rest
                else:
                    _parts(candidate).append(
                        {"text": rest, "thought": True} if thought else {"text": rest}
                    )
                changed = True
        return changed


class _GeminiStream(EventStream[SseEvent | ArrayItem]):
    """One streamed response: guarded bytes out in the framing that came in."""

    def __init__(self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int) -> None:
        self._framing = AnyJsonStream(max_event_bytes)
        super().__init__(guard, self._framing)
        self._texts = _Texts(guard)
        self._opened = False  # an event was sent (in an array: the "[")
        self._usage: Any = None
        self._reported = False

    def event(self, event: SseEvent | ArrayItem) -> bytes:
        array, whole = self._framing.kind == "array", self._framing.kind == "whole"
        value = event.value if isinstance(event, ArrayItem) else event.data
        if value is None:  # a comment, or the array's punctuation
            if not self._framing.closed:
                return event.raw
            return self._settle(
                _error(500, self.ENDED_EARLY) if self._texts.open else None, closing=event.raw
            )
        obj = load_object(value)
        check_strays(obj, FIELDS, self._guard)
        changed = self._texts.apply(obj, close=whole)
        self._opened = True
        self._usage = obj.get("usageMetadata", self._usage)
        if "error" in obj:
            return self._settle(upstream=event.raw)
        if self._texts.blocked or not self._texts.open:
            changed = self._last(obj) or changed
        self._finished = self._texts.blocked or whole
        out = self._encode(obj, getattr(event, "prefix", b"")) if changed else event.raw
        return out + b"]" if array and self._finished else out

    def end(self, message: str) -> bytes:
        return self._settle(error=_error(500, message))

    def ended(self) -> bytes:
        """SSE has no last event: the stream is complete once every candidate finished."""
        complete = self._framing.kind == "sse" and self._opened and not self._texts.open
        return self._settle() if complete else self.end(self.ENDED_EARLY)

    def _last(self, obj: JsonObject) -> bool:
        """Make ``obj`` the response's last event: every open candidate closed into it, the
        last usage if blocked, the report (unless an earlier event has it); whether it changed."""
        changed = self._texts.end(obj)
        if self._texts.blocked and self._usage is not None:
            obj["usageMetadata"] = self._usage
        self._reported = self._reported or attach_report(obj, self._guard)
        return changed or "copyguard" in obj

    def _settle(
        self, error: JsonObject | None = None, upstream: bytes = b"", closing: bytes = b""
    ) -> bytes:
        """Held text and the report in one last event, then the upstream's error event, our
        ``error`` or the array's closing bytes; the stream is finished."""
        last: JsonObject = {}
        out = self._encode(last) if self._last(last) else b""
        if not self._texts.blocked:
            out += upstream if error is None else self._encode(error)
        self._finished = True
        if self._framing.kind == "array":
            out += closing or (b"]" if self._opened else b"[]")
        return out

    def _encode(self, obj: JsonObject, prefix: bytes | None = None) -> bytes:
        data = orjson.dumps(obj)
        if self._framing.kind != "array":
            return data if self._framing.kind == "whole" else encode_sse(data)
        head = (b"," if self._opened else b"[") if prefix is None else prefix
        self._opened = True
        return head + data


class _Gemini(JsonDialect):
    """What both routes share: one response shape, streamed or whole."""

    name = "gemini"
    body_fields = FIELDS
    rewriter = _GeminiStream
    _streams = False

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        """The route, not the body, asks for a stream."""
        return self._streams

    def answers_as_stream(self, content_type: str) -> bool:
        """Gemini streams JSON arrays as ``application/json``; the rewriter tells them apart."""
        return True

    def rewrite(self, obj: JsonObject, guard: TextFilter) -> bool | None:
        return None if "error" in obj else _Texts(guard).apply(obj, close=True)

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.gemini(request)

    def error_body(self, status: int, message: str) -> bytes:
        return orjson.dumps(_error(status, message))


# The Gemini API (models and tuned models) and Vertex AI (publisher models, also without a
# project in express mode, and tuned-model endpoints) speak the same format.
_MODELS = [f"/{v}/{kind}/{{model}}" for v in ("v1beta", "v1") for kind in ("models", "tunedModels")]
_VERTEX = "projects/{project}/locations/{location}/"
_MODELS += [f"/{v}/{at}" for v in ("v1", "v1beta1") for at in (
    _VERTEX + "publishers/{publisher}/models/{model}", "publishers/{publisher}/models/{model}",
    _VERTEX + "endpoints/{endpoint}")]  # fmt: skip


class GeminiGenerate(_Gemini):
    """``POST /v1beta/models/{model}:generateContent``: one response."""

    paths = tuple(f"{model}:generateContent" for model in _MODELS)


class GeminiStream(_Gemini):
    """``POST /v1beta/models/{model}:streamGenerateContent``: SSE or a JSON array."""

    paths = tuple(f"{model}:streamGenerateContent" for model in _MODELS)
    _streams = True
