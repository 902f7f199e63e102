"""Ollama ``/api/chat`` and ``/api/generate``: guarded text in NDJSON lines and bodies.

Stream keys: ``"0"`` for ``message.content`` (chat) or ``response`` (generate), ``"0/thinking"``
for ``thinking``, ``"0/tool/{j}"`` for the JSON-serialised arguments of the j-th tool call.
Tool calls arrive whole, so each is pushed and closed at once; a redacted call keeps its
arguments if they still parse as an object, a blocked (or unparsable) call is dropped.

Lines the guard left alone are forwarded byte for byte.  Text still held when the
``done: true`` line arrives goes into that line.  ``context`` (token ids that decode to the
output) is dropped when any output text was changed, and ``logprobs`` (token texts) is
dropped from every line whose text changed.  A blocked stream ends with a synthetic
``done_reason: "content_filter"`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.dialects import conversation
from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import (
    Conversation,
    DialectError,
    JsonObject,
    Sent,
    StreamRewriter,
    TextFilter,
)
from proxy.dialects.ndjson import NdjsonDecoder, encode_ndjson
from proxy.dialects.skeleton import (
    EventStream,
    JsonDialect,
    attach_report,
    close_all,
    load_object,
    whole_text,
)

_TOP: Fields = {
    "model": None, "created_at": None, "done": None, "done_reason": None, "context": ...,
    "logprobs": ..., "copyguard": ...,
}  # fmt: skip
# Tool call arguments are guarded as the JSON of their object (an object, as Ollama sends).
_CALLS: Fields = {"*": {"id": None, "type": None, "function": {"index": None, "name": None,
                                                              "arguments": ...}}}  # fmt: skip
FIELDS: dict[bool, Fields] = {  # by chat (True) or generate
    True: _TOP | {"message": {"role": None, "content": None, "thinking": None,
                              "tool_calls": _CALLS, "images": ..., "tool_name": None}},
    False: _TOP | {"response": None, "thinking": None, "images": ...},
}  # fmt: skip


def _object(text: str) -> JsonObject | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class _Texts:
    """The guarded text streams of one response, in place on its JSON objects."""

    def __init__(self, guard: TextFilter, chat: bool) -> None:
        self.guard = guard
        self.chat = chat
        self.fields = (("0/thinking", "thinking"), ("0", "content" if chat else "response"))
        self.keys: set[str] = set()  # every key pushed, to ask the guard what changed
        self.open: set[str] = set()
        self.tools = 0
        self.blocked = False
        self.altered = False  # a tool call was changed or dropped

    def holder(self, obj: JsonObject) -> JsonObject:
        """The object whose fields carry the text (chat: ``message``, generate: the line)."""
        if not self.chat:
            return obj
        message = obj.get("message")
        if message is None:
            message = obj["message"] = {"role": "assistant"}
        if not isinstance(message, dict):
            raise DialectError('"message" is not an object')
        return message

    def apply(self, holder: JsonObject, close: bool) -> bool:
        """Guard the texts in ``holder`` (closing every stream if ``close``); True if changed."""
        changed = False
        for key, field in self.fields:
            text = holder.get(field)
            if text is not None and not isinstance(text, str):
                raise DialectError(f'"{field}" is not a string')
            if self.blocked:  # an earlier stream was blocked: nothing after it is sent
                if text:
                    holder[field], changed = "", True
                continue
            out, blocked = "", False
            if text is not None:
                self.keys.add(key)
                self.open.add(key)
                out, blocked = self.guard.push(key, text)
            if close and key in self.open:
                rest, blocked = self._close(key)
                out += rest
            self.blocked = self.blocked or blocked
            if out != (text or ""):
                holder[field], changed = out, True
        if self.chat and "tool_calls" in holder:
            changed = self._tool_calls(holder) or changed
        return changed

    def _tool_calls(self, holder: JsonObject) -> bool:
        calls = holder["tool_calls"]
        if not isinstance(calls, list):
            raise DialectError('"tool_calls" is not a list')
        kept: list[Any] = []
        changed = False
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            args = function.get("arguments") if isinstance(function, dict) else None
            if self.blocked:
                changed = True
                continue
            if not isinstance(function, dict) or not isinstance(args, dict):
                kept.append(call)
                continue
            key = f"0/tool/{self.tools}"
            self.tools += 1
            text = orjson.dumps(args).decode()
            released, blocked = whole_text(self.guard, key, text)
            if blocked:
                self.blocked = changed = True
                continue
            if released != text:
                changed = True
                parsed = _object(released)
                if parsed is None:
                    continue
                function["arguments"] = parsed
            kept.append(call)
        if not changed:
            return False
        self.altered = True
        if kept:
            holder["tool_calls"] = kept
        else:
            del holder["tool_calls"]
        return True

    def _close(self, key: str) -> Sent:
        self.open.discard(key)
        return self.guard.close(key)

    def close_all(self) -> dict[str, str]:
        """Close every open stream; the text each releases."""
        rest, blocked = close_all(self.guard, sorted(self.open))
        self.open.clear()
        self.blocked = self.blocked or blocked
        return rest

    def changed(self) -> bool:
        """Whether the client's output differs from upstream's (so ``context`` would leak)."""
        return self.blocked or self.altered or any(self.guard.altered(key) for key in self.keys)


class _OllamaStream(EventStream[bytes]):
    """One streamed chat or generate response: NDJSON bytes in, guarded NDJSON bytes out."""

    ENDED_EARLY = "upstream stream ended before done"

    def __init__(self, guard: TextFilter, chat: bool, max_line_bytes: int = 1 << 20) -> None:
        super().__init__(guard, NdjsonDecoder(max_line_bytes))
        self._texts = _Texts(guard, chat)
        self._model: Any = None
        self._created_at: Any = None

    def end(self, message: str) -> bytes:
        return self._end(encode_ndjson({"error": message}))

    def event(self, raw: bytes) -> bytes:
        obj = load_object(raw)
        check_strays(obj, FIELDS[self._texts.chat], self._guard)
        if "error" in obj:
            return self._end(raw)
        self._model = obj.get("model", self._model)
        self._created_at = obj.get("created_at", self._created_at)
        done = obj.get("done") is True
        changed = self._texts.apply(self._texts.holder(obj), close=done)
        if changed:
            obj.pop("logprobs", None)
        if done:
            if self._texts.blocked:
                obj["done_reason"] = "content_filter"
            changed = self._finish(obj) or changed or self._texts.blocked
        elif self._texts.blocked:
            return encode_ndjson(obj) + self._final(self._texts.close_all())
        return encode_ndjson(obj) if changed else raw

    def _end(self, tail: bytes) -> bytes:
        """Settle every stream, then end with ``tail`` (an error line) unless that blocked."""
        rest = self._texts.close_all()
        if self._texts.blocked:
            return self._final(rest)
        out = encode_ndjson(self._line_with(rest, done=False)) if any(rest.values()) else b""
        self._finished = True
        return out + tail

    def _final(self, rest: dict[str, str]) -> bytes:
        """The synthetic last line of a blocked stream."""
        obj = self._line_with(rest, done=True)
        obj["done_reason"] = "content_filter"
        self._finish(obj)
        return encode_ndjson(obj)

    def _line_with(self, rest: dict[str, str], done: bool) -> JsonObject:
        obj: JsonObject = {}
        if self._model is not None:
            obj["model"] = self._model
        if self._created_at is not None:
            obj["created_at"] = self._created_at
        holder = self._texts.holder(obj)
        for key, field in self._texts.fields:
            if rest.get(key) or key == "0":
                holder[field] = rest.get(key, "")
        obj["done"] = done
        return obj

    def _finish(self, obj: JsonObject) -> bool:
        """Last line: drop ``context`` if the output changed, attach the report; True if changed."""
        self._finished = True
        changed = self._texts.changed() and obj.pop("context", None) is not None
        return attach_report(obj, self._guard) or changed


class _Ollama(JsonDialect):
    """What ``/api/chat`` and ``/api/generate`` share; they differ only in where text sits."""

    stream_media_type = "application/x-ndjson"
    streams_by_default = True  # Ollama streams unless the request says "stream": false
    _chat: bool

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> StreamRewriter:
        return _OllamaStream(guard, self._chat, max_event_bytes)

    def rewrite(self, obj: JsonObject, guard: TextFilter) -> bool | None:
        if "error" in obj:
            return None
        texts = _Texts(guard, self._chat)
        changed = texts.apply(texts.holder(obj), close=True)
        if texts.blocked:
            obj["done_reason"] = "content_filter"
        if changed or texts.blocked:
            obj.pop("context", None)
            obj.pop("logprobs", None)
        return changed or texts.blocked

    def error_body(self, status: int, message: str) -> bytes:
        return orjson.dumps({"error": message})


class OllamaChat(_Ollama):
    """Ollama ``POST /api/chat``: text in ``message.content`` / ``message.thinking``."""

    name = "ollama-chat"
    paths = ("/api/chat",)
    body_fields = FIELDS[True]
    _chat = True

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.ollama_chat(request)


class OllamaGenerate(_Ollama):
    """Ollama ``POST /api/generate``: text in ``response`` / ``thinking``."""

    name = "ollama-generate"
    paths = ("/api/generate",)
    body_fields = FIELDS[False]
    _chat = False

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.ollama_generate(request)
