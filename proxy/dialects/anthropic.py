"""Anthropic Messages (``POST /v1/messages``): guarded text in SSE events and message bodies.

Stream keys: ``"{index}"`` for a text block, ``"{index}/thinking"`` for a thinking block and
``"{index}/input"`` for the ``input_json_delta`` text of a tool-use block.  Events whose text
the guard left alone are forwarded byte for byte; others are re-encoded.  A block ends with
its held text in a synthetic ``content_block_delta`` just before ``content_block_stop``.

A blocked stream ends like a refusal: the block is stopped, then ``message_delta`` with
``stop_reason: "refusal"`` and ``message_stop``.  Citations (``citations_delta``,
``cited_text``) quote the client's own documents and pass through unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.dialects import conversation
from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import Conversation, DialectError, JsonObject, TextFilter
from proxy.dialects.skeleton import (
    EventStream,
    JsonDialect,
    attach_report,
    load_object,
    whole_text,
)
from proxy.dialects.sse import SseDecoder, SseEvent, encode_sse

# delta type -> (key suffix, field holding its text)
_DELTAS: dict[str, tuple[str, str]] = {
    "text_delta": ("", "text"),
    "thinking_delta": ("/thinking", "thinking"),
    "input_json_delta": ("/input", "partial_json"),
}
# content block type -> the delta type that extends it
_BLOCKS: dict[str, str] = {
    "text": "text_delta",
    "thinking": "thinking_delta",
    "tool_use": "input_json_delta",
    "server_tool_use": "input_json_delta",
    "mcp_tool_use": "input_json_delta",
}
# Strings the dialect guards or that are metadata; any other string is checked as a stray.
_BLOCK: Fields = {
    "type": None, "id": None, "name": None, "text": None, "thinking": None, "signature": None,
    "data": None, "tool_use_id": None, "citations": ..., "input": {},
}  # fmt: skip
_MESSAGE: Fields = {
    "id": None, "type": None, "role": None, "model": None, "stop_reason": None,
    "stop_sequence": None, "usage": ..., "container": ..., "copyguard": ...,
}  # fmt: skip
STREAM_FIELDS: Fields = {
    "type": None, "index": None, "usage": ..., "copyguard": ..., "error": {"type": None},
    "message": _MESSAGE, "content_block": _BLOCK,
    "delta": {"type": None, "text": None, "thinking": None, "partial_json": None,
              "signature": None, "citation": ..., "stop_reason": None, "stop_sequence": None},
}  # fmt: skip
WHOLE_FIELDS: Fields = _MESSAGE | {"content": {"*": _BLOCK | {"input": ...}}}
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _index(obj: JsonObject) -> int:
    index = obj.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise DialectError(f"{obj.get('type')} without an integer index")
    return index


def _key(index: int, delta_type: str) -> str:
    return f"{index}{_DELTAS[delta_type][0]}"


def _event(obj: JsonObject) -> bytes:
    return encode_sse(orjson.dumps(obj), event=str(obj["type"]))


def _delta(index: int, delta_type: str, text: str) -> bytes:
    field = _DELTAS[delta_type][1]
    delta = {"type": delta_type, field: text}
    return _event({"type": "content_block_delta", "index": index, "delta": delta})


def _stop(index: int) -> bytes:
    return _event({"type": "content_block_stop", "index": index})


class _AnthropicStream(EventStream[SseEvent]):
    """One streamed Messages response: SSE bytes in, guarded SSE bytes out."""

    ENDED_EARLY = "upstream stream ended before message_stop"

    def __init__(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> None:
        super().__init__(guard, SseDecoder(max_event_bytes))
        self._open: dict[int, str] = {}  # block index -> delta type of its text
        self._output_tokens = 0

    def end(self, message: str) -> bytes:
        out = self._settle()
        if not self._finished:  # settling may have blocked, which ends the message itself
            error = {"type": "api_error", "message": message}
            out += _event({"type": "error", "error": error})
            self._finished = True
        return out

    def event(self, event: SseEvent) -> bytes:
        if event.data is None:
            return event.raw
        obj = load_object(event.data)
        check_strays(obj, STREAM_FIELDS, self._guard)
        kind = obj.get("type")
        if kind == "content_block_start":
            return self._block_start(event, obj)
        if kind == "content_block_delta":
            return self._block_delta(event, obj)
        if kind == "content_block_stop":
            return self._block_stop(event, obj)
        if kind == "message_delta":
            return self._message_delta(event, obj)
        if kind == "message_start":
            message = obj.get("message")
            if isinstance(message, dict):
                self._count(message.get("usage"))
        elif kind in ("message_stop", "error"):
            out = self._settle()
            if self._finished:
                return out
            self._finished = True
            return out + event.raw
        return event.raw

    def _block_start(self, event: SseEvent, obj: JsonObject) -> bytes:
        index = _index(obj)
        block = obj.get("content_block")
        if not isinstance(block, dict):
            raise DialectError("content_block_start without a content_block object")
        delta_type = _BLOCKS.get(str(block.get("type")))
        if delta_type is None:
            return event.raw
        self._open[index] = delta_type
        return self._guarded(event, obj, block, index, delta_type)

    def _block_delta(self, event: SseEvent, obj: JsonObject) -> bytes:
        index = _index(obj)
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            raise DialectError("content_block_delta without a delta object")
        delta_type = str(delta.get("type"))
        if delta_type not in _DELTAS:
            return event.raw  # signature_delta, citations_delta
        if not isinstance(delta.get(_DELTAS[delta_type][1]), str):
            raise DialectError(f"{delta_type} without its text")
        self._open.setdefault(index, delta_type)
        return self._guarded(event, obj, delta, index, delta_type)

    def _guarded(
        self, event: SseEvent, obj: JsonObject, holder: JsonObject, index: int, delta_type: str
    ) -> bytes:
        """Push ``holder``'s text; return the event as the client may see it (+ refusal)."""
        field = _DELTAS[delta_type][1]
        text = holder.get(field)
        if not isinstance(text, str):
            return event.raw
        key = _key(index, delta_type)
        released, blocked = self._guard.push(key, text)
        out = event.raw
        if released != text:
            holder[field] = released
            out = _event(obj)
        if blocked:
            return out + self._settle(refuse=True)
        return out

    def _block_stop(self, event: SseEvent, obj: JsonObject) -> bytes:
        index = _index(obj)
        delta_type = self._open.pop(index, None)
        if delta_type is None:
            return event.raw
        rest, blocked = self._guard.close(_key(index, delta_type))
        out = (_delta(index, delta_type, rest) if rest else b"") + event.raw
        if blocked:
            out += self._settle(refuse=True)
        return out

    def _message_delta(self, event: SseEvent, obj: JsonObject) -> bytes:
        out = self._settle()
        if self._finished:
            return out
        self._count(obj.get("usage"))
        return out + (_event(obj) if attach_report(obj, self._guard) else event.raw)

    def _count(self, usage: Any) -> None:
        if isinstance(usage, dict) and isinstance(usage.get("output_tokens"), int):
            self._output_tokens = usage["output_tokens"]

    def _settle(self, refuse: bool = False) -> bytes:
        """Close every open block (last text, then stop); end with a refusal if any is blocked."""
        out = bytearray()
        for index, delta_type in sorted(self._open.items()):
            rest, blocked = self._guard.close(_key(index, delta_type))
            if rest:  # a blocked stream releases nothing
                out += _delta(index, delta_type, rest)
            out += _stop(index)
            refuse = refuse or blocked
        self._open.clear()
        if refuse:
            out += self._refusal()
        return bytes(out)

    def _refusal(self) -> bytes:
        message_delta: JsonObject = {
            "type": "message_delta",
            "delta": {"stop_reason": "refusal", "stop_sequence": None},
            "usage": {"output_tokens": self._output_tokens},
        }
        attach_report(message_delta, self._guard)
        self._finished = True
        return _event(message_delta) + _event({"type": "message_stop"})


def _rewrite_block(index: int, block: JsonObject, guard: TextFilter) -> tuple[bool, bool]:
    """Guard one content block of a complete message in place; return (changed, blocked)."""
    kind = block.get("type")
    if kind in ("text", "thinking"):
        field, key = str(kind), _key(index, _BLOCKS[str(kind)])
        text = block.get(field)
        if not isinstance(text, str):
            return False, False
        released, blocked = whole_text(guard, key, text)
        if released != text:
            block[field] = released
        return released != text, blocked
    if kind in _BLOCKS and isinstance(block.get("input"), dict):
        key = _key(index, "input_json_delta")
        text = orjson.dumps(block["input"]).decode()
        released, blocked = whole_text(guard, key, text)
        if blocked:
            block["input"] = {}
            return True, True
        if released != text:
            block["input"] = _object_or_empty(released)
            return True, False
    return False, False


def _object_or_empty(text: str) -> JsonObject:
    """A redacted tool input that is still a JSON object, else ``{}``."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class AnthropicMessages(JsonDialect):
    """The Anthropic Messages API, streamed (SSE) or not."""

    name = "anthropic-messages"
    paths = ("/v1/messages",)
    body_fields = WHOLE_FIELDS
    rewriter = _AnthropicStream

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return conversation.anthropic(request)

    def rewrite(self, obj: JsonObject, guard: TextFilter) -> bool | None:
        """Guard a complete message.

        A blocked block keeps its released prefix and later blocks are dropped (a stream
        would have ended there); a blocked tool input becomes ``{}``, a redacted one is kept
        if it still parses as a JSON object, else ``{}``.  ``stop_reason`` becomes ``refusal``.
        """
        content = obj.get("content")
        if content is None:
            return None
        if not isinstance(content, list):
            raise DialectError('"content" is not a list')
        changed = blocked = False
        for index, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            block_changed, blocked = _rewrite_block(index, block, guard)
            changed = changed or block_changed
            if blocked:
                del content[index + 1 :]
                obj["stop_reason"], obj["stop_sequence"] = "refusal", None
                changed = True
                break
        return changed

    def error_body(self, status: int, message: str) -> bytes:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
