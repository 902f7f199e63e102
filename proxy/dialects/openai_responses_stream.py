"""Streamed OpenAI Responses API output (``POST /v1/responses`` with ``stream: true``).

Every ``*.delta`` goes through the guard; every field that repeats a text in full (the
``*.done`` events, ``content_part.done``, ``output_item.done`` and the final response object)
is set to what the client was actually sent.  Untouched events are forwarded byte for byte;
once events are inserted, later ``sequence_number``s are shifted so they stay contiguous.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import DialectError, JsonObject, TextFilter
from proxy.dialects.openai_responses_items import (
    BY_DELTA,
    BY_DONE,
    KINDS,
    OUTPUT_TEXT,
    SUMMARY,
    Kind,
    check_other_items,
    item_texts,
    output_text,
)
from proxy.dialects.skeleton import EventStream, attach_report, load_object
from proxy.dialects.sse import SseDecoder, SseEvent, encode_sse

_R = "response."
_TERMINAL = {_R + "completed", _R + "incomplete", _R + "failed"}
# Fields of an event that carry no output text.  In an event type the rewriter does not know
# (an audio transcript delta, code being written, ...) every other string is checked as a
# stray; in the ones it knows, the text fields and the objects it keeps consistent are its own.
_META: Fields = {
    "type": None, "sequence_number": None, "output_index": None, "content_index": None,
    "summary_index": None, "item_id": None, "obfuscation": None, "annotation_index": None,
    "logprobs": ..., "copyguard": ..., "code": None, "param": None,
}  # fmt: skip
_OWN: Fields = _META | {
    "delta": None, "text": None, "refusal": None, "arguments": None, "input": None,
    "name": None, "part": ..., "item": ..., "response": ..., "annotation": ...,
}  # fmt: skip
_KNOWN = {
    *BY_DELTA, *BY_DONE, *_TERMINAL, OUTPUT_TEXT.part_done, SUMMARY.part_done,
    _R + "output_item.added", _R + "output_item.done", _R + "content_part.added",
    _R + "reasoning_summary_part.added", _R + "created", _R + "in_progress", _R + "queued",
}  # fmt: skip
_BASE_RESPONSE: JsonObject = {
    "id": "", "object": "response", "created_at": 0, "model": "", "output": [],
    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
}  # fmt: skip


def _index(obj: JsonObject, name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DialectError(f"{obj.get('type')} event without an integer {name!r}")
    return value


def _dict(obj: JsonObject, name: str) -> JsonObject:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise DialectError(f"{obj.get('type')} event without an object {name!r}")
    return value


@dataclass(slots=True)
class _Stream:
    kind: Kind
    output_index: int
    index: int
    item_id: str
    pieces: list[str] = field(default_factory=list)  # the upstream's deltas on this stream
    streamed: bool = False  # delta events went out: released tails go out as deltas too
    closed: bool = False
    text_done: bool = False  # the kind's done event went out
    part_done: bool = False  # the part's done event went out


@dataclass(slots=True)
class _Item:
    data: JsonObject  # as added, with its parts; once done, as sent in output_item.done
    done: bool = False


class ResponsesStreamRewriter(EventStream[SseEvent]):
    """Rewrites one Responses API event stream (see the module docstring)."""

    ENDED_EARLY = "upstream ended the stream before the response was complete"

    def __init__(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> None:
        super().__init__(guard, SseDecoder(max_event_bytes))
        self._streams: dict[str, _Stream] = {}
        self._items: dict[int, _Item] = {}
        self._response: JsonObject | None = None
        self._offset = 0  # added to upstream sequence numbers
        self._last_seq = -1
        self._named = True  # upstream events carry "event:" lines
        self._terminal = False

    def ended(self) -> bytes:
        return b"" if self._terminal else self.end(self.ENDED_EARLY)

    def end(self, message: str) -> bytes:
        out: list[bytes] = []
        self._error(message, out)
        return b"".join(out)

    def event(self, event: SseEvent) -> bytes:
        out: list[bytes] = []
        self._event(event, out)
        return b"".join(out)

    # -- events ------------------------------------------------------------------------

    def _event(self, ev: SseEvent, out: list[bytes]) -> None:
        if ev.data is None or ev.data == "[DONE]":
            out.append(ev.raw)
            return
        obj = load_object(ev.data)
        self._named = ev.event is not None
        etype = obj.get("type")
        if not isinstance(etype, str):
            raise DialectError("a Responses event without a string 'type'")
        check_strays(obj, _OWN if etype in _KNOWN else _META, self._guard)
        if isinstance(item := obj.get("item"), dict):
            check_other_items({_index(obj, "output_index"): item}, self._guard)
        elif isinstance(response := obj.get("response"), dict) and isinstance(
            output := response.get("output"), list
        ):
            check_other_items(dict(enumerate(output)), self._guard)
        if (kind := BY_DELTA.get(etype)) is not None:
            changed = self._delta(kind, obj, ev, out)
        elif (kind := BY_DONE.get(etype)) is not None:
            changed = self._done(kind, obj, out)
        elif etype in (OUTPUT_TEXT.part_done, SUMMARY.part_done):
            changed = self._part_done(obj, out)
        elif etype == _R + "output_item.done":
            changed = self._item_done(obj, out)
        elif etype in _TERMINAL:
            changed = self._terminal_event(obj, out)
        else:
            changed = self._track(etype, obj, out)
        if not self._finished:
            self._emit(obj, out, ev, changed)

    def _track(self, etype: object, obj: JsonObject, out: list[bytes]) -> bool:
        """Remember the response and the items and parts being built; forward unchanged."""
        if etype in (_R + "created", _R + "in_progress", _R + "queued"):
            self._response = _dict(obj, "response")
        elif etype == _R + "output_item.added":
            o, item = _index(obj, "output_index"), _dict(obj, "item")
            self._items[o] = _Item(item)
            for kind, i, _ in item_texts(item):
                self._stream(kind, o, i, item.get("id"))
        elif etype in (_R + "content_part.added", _R + "reasoning_summary_part.added"):
            o, part = _index(obj, "output_index"), _dict(obj, "part")
            for kind in KINDS:
                if kind.part_type == part.get("type") and kind.index in obj:
                    self._stream(kind, o, _index(obj, kind.index), obj.get("item_id"), part)
        elif etype == "error":
            self._settle_all(out)
            self._terminal = True
            if self._pending_block():
                self._block(out)
        return False

    def _delta(self, kind: Kind, obj: JsonObject, ev: SseEvent, out: list[bytes]) -> bool:
        o, i = _index(obj, "output_index"), _index(obj, kind.index) if kind.index else 0
        delta = obj.get("delta")
        if not isinstance(delta, str):
            raise DialectError(f"{kind.delta} event without a string 'delta'")
        key, s = self._stream(kind, o, i, obj.get("item_id"))
        s.pieces.append(delta)  # joined only if a done event repeats the text
        s.streamed = True
        text, blocked = self._guard.push(key, delta)
        changed = text != delta
        if changed:
            obj["delta"] = text
            if obj.get("logprobs"):
                obj["logprobs"] = []
        if blocked:
            self._emit(obj, out, ev, changed)
            self._block(out)
        return changed

    def _done(self, kind: Kind, obj: JsonObject, out: list[bytes]) -> bool:
        o, i = _index(obj, "output_index"), _index(obj, kind.index) if kind.index else 0
        key, s = self._stream(kind, o, i, obj.get("item_id"))
        self._settle(key, s, obj.get(kind.field), out)
        if self._pending_block():
            self._block(out)
            return False
        s.text_done = True
        return self._fill(key, s, obj)

    def _part_done(self, obj: JsonObject, out: list[bytes]) -> bool:
        o, part = _index(obj, "output_index"), _dict(obj, "part")
        for kind in KINDS:
            if kind.part_type == part.get("type") and kind.part_done == obj.get("type"):
                key, s = self._stream(kind, o, _index(obj, kind.index or ""), obj.get("item_id"))
                self._settle(key, s, part.get(kind.field), out)
                if self._pending_block():
                    self._block(out)
                    return False
                s.part_done = True
                return self._fill(key, s, part)
        return False

    def _item_done(self, obj: JsonObject, out: list[bytes]) -> bool:
        o, item = _index(obj, "output_index"), _dict(obj, "item")
        changed = self._settle_output({o: item}, out)
        if not self._finished:
            self._items[o] = _Item(item, done=True)
        return changed

    def _terminal_event(self, obj: JsonObject, out: list[bytes]) -> bool:
        response = _dict(obj, "response")
        output = response.get("output")
        items = dict(enumerate(output)) if isinstance(output, list) else {}
        changed = self._settle_output(items, out)
        if self._finished:
            return False
        self._settle_all(out)
        if self._pending_block():
            self._block(out)
            return False
        self._terminal = True
        if changed and isinstance(response.get("output_text"), str):
            response["output_text"] = output_text(list(items.values()))
        return self._attach_report(obj) or changed

    # -- streams -----------------------------------------------------------------------

    def _stream(
        self, kind: Kind, o: int, i: int, item_id: object, part: JsonObject | None = None
    ) -> tuple[str, _Stream]:
        """The stream of ``kind`` at (o, i), created on first sight; tracks its part."""
        key = kind.key(o, i)
        if (s := self._streams.get(key)) is None:
            s = _Stream(kind, o, i, item_id if isinstance(item_id, str) else "")
            self._streams[key] = s
        item = self._items.get(o)
        if kind.container is not None and item is not None and not item.done:
            parts = item.data.setdefault(kind.container, [])
            if isinstance(parts, list):
                parts.extend({} for _ in range(i + 1 - len(parts)))
                if part is not None or not parts[i]:
                    parts[i] = part if part is not None else {"type": kind.part_type}
        return key, s

    def _settle(self, key: str, s: _Stream, full: object, out: list[bytes]) -> None:
        """Close ``key``; send what it releases as one more delta (after the upstream's)."""
        if s.closed:
            return
        text = ""
        sent = "".join(s.pieces)
        if isinstance(full, str) and len(full) > len(sent) and full.startswith(sent):
            text = self._guard.push(key, full[len(sent) :]).text
            s.pieces = [full]
        text += self._guard.close(key).text
        s.closed = True
        if text and s.streamed:
            delta: JsonObject = {"type": s.kind.delta, "item_id": s.item_id}
            delta["output_index"] = s.output_index
            if s.kind.index:
                delta[s.kind.index] = s.index
            delta["delta"] = text
            if s.kind.logprobs:
                delta["logprobs"] = []
            self._emit(delta, out)

    def _settle_all(self, out: list[bytes]) -> None:
        for key, s in list(self._streams.items()):
            self._settle(key, s, None, out)

    def _settle_output(self, items: dict[int, Any], out: list[bytes]) -> bool:
        """Settle and rewrite every text of ``items``; start the block if one is blocked."""
        slots = [
            (kind.key(o, i), kind, i, o, holder)
            for o, item in items.items()
            if isinstance(item, dict)
            for kind, i, holder in item_texts(item)
        ]
        for key, kind, i, o, holder in slots:
            s = self._streams.get(key) or self._stream(kind, o, i, items[o].get("id"))[1]
            self._settle(key, s, holder.get(kind.field), out)
        if self._pending_block():
            self._block(out)
            return False
        changed = False
        for key, *_, holder in slots:
            changed = self._fill(key, self._streams[key], holder) or changed
        return changed

    def _fill(self, key: str, s: _Stream, holder: JsonObject) -> bool:
        """Set ``holder``'s copy of the text to what was released; drop logprobs if it differs."""
        released = self._guard.released(key)
        changed = holder.get(s.kind.field) != released
        holder[s.kind.field] = released
        if self._guard.altered(key) and holder.get("logprobs"):
            holder["logprobs"] = []
            changed = True
        return changed

    def _pending_block(self) -> bool:
        return any(self._guard.blocked(key) for key in self._streams)

    # -- endings -----------------------------------------------------------------------

    def _block(self, out: list[bytes]) -> None:
        """End the response as ``incomplete`` (content_filter), closing every open item."""
        self._finished = True
        self._settle_all(out)
        for o in sorted(self._items):
            item = self._items[o]
            if item.done:
                continue
            item_id = item.data.get("id")
            item_id = item_id if isinstance(item_id, str) else ""
            for kind, i, holder in list(item_texts(item.data)):
                key, s = self._stream(kind, o, i, item_id)
                self._fill(key, s, holder)
                head: JsonObject = {"item_id": item_id or s.item_id, "output_index": o}
                if kind.index:
                    head[kind.index] = i
                if not s.text_done:
                    done = {"type": kind.done, **head, kind.field: holder[kind.field]}
                    if kind.logprobs:
                        done["logprobs"] = []
                    self._emit(done, out)
                if kind.part_done and not s.part_done:
                    if kind is OUTPUT_TEXT:
                        holder.setdefault("annotations", [])
                    self._emit({"type": kind.part_done, **head, "part": holder}, out)
            item.data["status"] = "incomplete"
            item.done = True
            self._emit({"type": _R + "output_item.done", "output_index": o, "item": item.data}, out)
        response = dict(self._response or _BASE_RESPONSE)
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
        response["output"] = [self._items[o].data for o in sorted(self._items)]
        if isinstance(response.get("output_text"), str):
            response["output_text"] = output_text(response["output"])
        event = {"type": _R + "incomplete", "response": response}
        self._attach_report(event)
        self._emit(event, out)

    def _error(self, message: str, out: list[bytes]) -> None:
        self._settle_all(out)
        self._finished = True
        error = {"type": "error", "code": "upstream_error", "message": message, "param": None}
        self._attach_report(error)
        self._emit(error, out)

    def _attach_report(self, obj: JsonObject) -> bool:
        return attach_report(obj, self._guard)

    def _emit(
        self, obj: JsonObject, out: list[bytes], ev: SseEvent | None = None, changed: bool = True
    ) -> None:
        """Send an upstream event (raw if unchanged) or, with ``ev`` None, an inserted one."""
        seq = obj.get("sequence_number")
        if ev is None:
            seq = obj["sequence_number"] = self._last_seq + 1
            self._offset += 1
        elif self._offset and isinstance(seq, int) and not isinstance(seq, bool):
            seq = obj["sequence_number"] = seq + self._offset
            changed = True
        if isinstance(seq, int) and not isinstance(seq, bool):
            self._last_seq = seq
        if ev is not None and not changed:
            out.append(ev.raw)
            return
        name = ev.event if ev is not None else (obj["type"] if self._named else None)
        out.append(encode_sse(orjson.dumps(obj), event=name))
