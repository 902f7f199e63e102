"""What the OpenAI chat and legacy completions formats share: choices streamed as SSE.

``OpenAIStream`` runs the stream: it decodes SSE, pushes every text field of every choice
through the guard, settles a choice's streams before its finish chunk, ends a blocked choice
with ``finish_reason: "content_filter"`` and holds logprob entries until their text is out.
Subclasses only say where the text sits in a choice and how to build a choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.dialects._logprobs import LogprobBook
from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import DialectError, JsonObject, TextFilter
from proxy.dialects.skeleton import EventStream, JsonDialect, attach_report, close_all, load_object
from proxy.dialects.sse import SseDecoder, SseEvent, encode_json, encode_sse

_HEAD = ("id", "object", "created", "model", "system_fingerprint", "service_tier")
_ERROR_TYPES = {
    400: "invalid_request_error",
    413: "request_too_large",
    502: "upstream_error",
    504: "upstream_error",
}
DONE = b"data: [DONE]\n\n"

# What the OpenAI formats' objects carry besides the choices: metadata, no output text.
TOP_FIELDS: Fields = {
    "id": None, "object": None, "created": None, "model": None, "system_fingerprint": None,
    "service_tier": None, "obfuscation": None, "usage": ..., "copyguard": ...,
    "prompt_filter_results": ...,
}  # fmt: skip
CHOICE_FIELDS: Fields = {
    "index": None, "finish_reason": None, "stop_reason": None, "logprobs": ...,
    "content_filter_results": ...,
}  # fmt: skip


class Slot:
    """One output text field: ``holder[name]`` is the text of stream ``key``."""

    __slots__ = ("holder", "key", "kind", "mirror", "name", "original")

    def __init__(self, key: str, kind: str, holder: Mapping[str, Any], name: str) -> None:
        self.key = key
        self.kind = kind  # what the dialect needs to rebuild the field in a synthetic chunk
        self.holder = holder
        self.name = name
        self.mirror: str | None = None  # a second field that repeats the same text
        self.original: str = holder[name]

    def get(self) -> str:
        text: str = self.holder[self.name]
        return text

    def set(self, text: str) -> None:
        holder: Any = self.holder
        holder[self.name] = text
        if self.mirror is not None:
            holder[self.mirror] = text


@dataclass(slots=True)
class _Choice:
    kinds: dict[str, str] = field(default_factory=dict)  # stream key -> kind, first seen first
    ended: bool = False
    blocked: bool = False


def error_body(status: int, message: str) -> bytes:
    """An OpenAI error object (chat, completions and Responses spell errors alike)."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})


class OpenAIDialect(JsonDialect):
    """What chat and completions share: a body of choices, OpenAI's error shape."""

    def rewrite(self, obj: JsonObject, guard: TextFilter) -> bool | None:
        """Guard every choice of a complete answer."""
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return None
        changed = False
        for pos, choice in enumerate(choices):
            if not isinstance(choice, dict):
                raise DialectError("a choice that is not an object")
            changed |= self.rewrite_choice(choice.get("index", pos), choice, guard)
        return changed

    def rewrite_choice(self, i: int, choice: JsonObject, guard: TextFilter) -> bool:
        """Guard the texts of choice ``i`` in place; whether it changed."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> bytes:
        """``{"error": {...}}`` as OpenAI sends it."""
        return error_body(status, message)


class OpenAIStream(EventStream[SseEvent]):
    """A ``StreamRewriter`` for streams of ``{"choices": [...]}`` chunks."""

    fields: Fields = TOP_FIELDS  # the subclass's: everything else in a chunk is checked as stray

    def __init__(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> None:
        super().__init__(guard, SseDecoder(max_event_bytes))
        track_logprobs = self.tracks_logprobs(request)
        self._choices: dict[int, _Choice] = {}
        n = request.get("n")
        self._expected = n if isinstance(n, int) and n > 1 else 1
        self._book: LogprobBook[Any] | None = LogprobBook() if track_logprobs else None
        self._last: JsonObject = {}  # the last chunk object: its _HEAD fields head new chunks
        self._done = False

    # -- what subclasses say about their format --
    @staticmethod
    def tracks_logprobs(request: Mapping[str, Any]) -> bool:
        """Whether the request asked for logprobs (then entries are held with their text)."""
        raise NotImplementedError

    def slots(self, i: int, choice: JsonObject) -> list[Slot]:
        """The text fields of a streamed choice."""
        raise NotImplementedError

    def logprobs_in(
        self, i: int, choice: JsonObject, slots: list[Slot]
    ) -> dict[str, tuple[list[Any], list[str]]]:
        """Logprob entries of a choice by stream key, with the token of each entry."""
        raise NotImplementedError

    def logprobs_out(self, i: int, choice: JsonObject, released: dict[str, list[Any]]) -> bool:
        """Put the released entries into ``choice``; return whether it changed."""
        raise NotImplementedError

    def plain_text(self, choice: JsonObject) -> tuple[JsonObject, str] | None:
        """Where the text of a choice that carries nothing but text sits (the usual chunk):
        the holder and the field, also the slot's kind; None for any other choice."""
        raise NotImplementedError

    def text_choice(self, i: int, texts: dict[str, tuple[str, str]]) -> JsonObject:
        """A choice carrying ``texts`` (key -> (kind, text)) and no finish reason."""
        raise NotImplementedError

    def stop_choice(self, i: int) -> JsonObject:
        """A choice that ends ``i`` with ``finish_reason: "content_filter"``."""
        raise NotImplementedError

    # -- EventStream --
    def ended(self) -> bytes:
        """Upstream ended without ``[DONE]`` (servers differ): settle every open choice."""
        return b"" if self._done else self._settle_all()

    def end(self, message: str) -> bytes:
        """Settle what is safe, then an error event and ``[DONE]``."""
        out = self._settle_all(done=False) if not self._done else b""
        error = {"error": {"message": message, "type": "upstream_error", "code": None}}
        self._finished = True
        return out + encode_sse(orjson.dumps(error)) + DONE

    def event(self, event: SseEvent) -> bytes:
        if event.data is None:
            return event.raw
        if self._done:
            return b""  # nothing follows [DONE]; whatever does is not forwarded unscanned
        # Named events are read like unnamed ones: a name must not smuggle text past us.
        if event.data[:1] != "{" and event.data.strip() == "[DONE]":
            self._done = True
            return self._settle_all() + event.raw
        obj = load_object(event.data)
        check_strays(obj, self.fields, self._guard)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return event.raw
        self._last = obj
        if len(choices) == 1 and self._book is None:
            plain = self._plain_chunk(obj, choices[0], event)
            if plain is not None:
                return plain
        guard = self._guard
        pre: list[JsonObject] = []
        post: list[JsonObject] = []
        kept: list[Any] = []
        changed = False
        for choice in choices:
            i = choice.get("index") if isinstance(choice, dict) else None
            if not isinstance(i, int):
                raise DialectError("streamed choice without an index")
            state = self._choices.get(i)
            if state is None:
                state = self._choices[i] = _Choice()
            if state.blocked:
                changed = True  # drop whatever upstream still sends for a blocked choice
                continue
            if state.ended:
                changed |= self._after_end(i, choice)
            else:
                changed |= self._choice(i, choice, state, pre, post)
            kept.append(choice)
        out = b"".join([self._chunk([c]) for c in pre]) if pre else b""
        if choices and not kept and obj.get("usage") is None:
            return out + self._chunk(post) + self._maybe_done()
        usage = not choices and obj.get("usage") is not None
        if (usage or any(c.get("finish_reason") for c in kept)) and attach_report(obj, guard):
            changed = True  # the report goes with the last chunk of a choice, built then
        if changed:
            obj["choices"] = kept
            out += encode_json(obj, event.event)
        else:
            out += event.raw
        return out + self._chunk(post) + self._maybe_done()

    def _plain_chunk(self, obj: JsonObject, choice: Any, event: SseEvent) -> bytes | None:
        """The usual chunk, one choice of text under way, pushed without the bookkeeping of
        ``_choice`` (which gives the same bytes); None for any other chunk."""
        if type(choice) is not dict or choice.get("finish_reason") is not None:
            return None
        i = choice.get("index")
        if type(i) is not int:
            return None
        state = self._choices.get(i)
        if state is None or state.blocked or state.ended or choice.get("logprobs") is not None:
            return None
        where = self.plain_text(choice)
        if where is None:
            return None
        holder, name = where
        text: str = holder[name]
        key = str(i)
        state.kinds.setdefault(key, name)
        out, state.blocked = self._guard.push(key, text)
        raw = event.raw
        if out != text:
            holder[name] = out
            raw = encode_json(obj, event.event)
        if not state.blocked:
            return raw
        state.ended = True
        return raw + self._chunk([self.stop_choice(i)]) + self._maybe_done()

    def _choice(
        self, i: int, choice: JsonObject, state: _Choice, pre: list[JsonObject], post: list[Any]
    ) -> bool:
        guard, changed = self._guard, False
        slots = self.slots(i, choice)
        placed: dict[str, Slot] = {}
        for slot in slots:
            text = slot.original
            if state.blocked:
                out = ""
            else:
                state.kinds.setdefault(slot.key, slot.kind)
                out, state.blocked = guard.push(slot.key, text)
            if out != text:
                slot.set(out)
                changed = True
            placed[slot.key] = slot
        finish = choice.get("finish_reason")
        if state.blocked:
            state.ended = True
            post.append(self.stop_choice(i))
            if finish is not None:
                choice["finish_reason"] = None
                changed = True
        elif finish is not None:
            state.ended = True
            later: dict[str, tuple[str, str]] = {}
            for key, text in self._close(state).items():
                if key in placed:
                    placed[key].set(placed[key].get() + text)
                    changed = True
                else:
                    later[key] = (state.kinds[key], text)
            if later:
                pre.append(self.text_choice(i, later))
            if state.blocked:
                choice["finish_reason"] = "content_filter"
                changed = True
        if self._book is None:  # not asked for: never let entries through unchecked
            if choice.get("logprobs") is not None:
                choice["logprobs"] = None
                changed = True
            return changed
        entries = self.logprobs_in(i, choice, slots)
        for key in placed.keys() | entries.keys():
            lp, tokens = entries.get(key, ([], []))
            self._book.add(key, placed[key].original if key in placed else "", lp, tokens)
        released = self._release(state, entries.keys())
        return self.logprobs_out(i, choice, released) or changed

    def _after_end(self, i: int, choice: JsonObject) -> bool:
        """A chunk for a choice that already finished (e.g. trailing usage or filter results)."""
        changed = False
        for slot in self.slots(i, choice):
            if slot.original:  # text after the finish chunk: its streams are closed
                slot.set("")
                changed = True
        if any(entries for entries, _ in self.logprobs_in(i, choice, []).values()):
            choice["logprobs"] = None
            changed = True
        return changed

    def _close(self, state: _Choice) -> dict[str, str]:
        texts, blocked = close_all(self._guard, state.kinds)
        state.blocked = state.blocked or blocked
        return texts

    def _release(self, state: _Choice, extra: Iterable[str] = ()) -> dict[str, list[Any]]:
        assert self._book is not None
        book, guard = self._book, self._guard
        released = {key: book.take(key, guard.released(key)) for key in state.kinds}
        for key in extra:
            if key not in released:  # entries of a key with no text yet
                released[key] = book.take(key, "")
        if state.ended:
            for key in released:
                book.drop(key)
        return released

    def _settle_all(self, done: bool = True) -> bytes:
        out = []
        for i, state in self._choices.items():
            if state.ended:
                continue
            state.ended = True
            texts = {k: (state.kinds[k], t) for k, t in self._close(state).items()}
            if texts or self._book is not None:
                choice = self.text_choice(i, texts)
                lp = self._book is not None and self.logprobs_out(i, choice, self._release(state))
                if texts or lp:
                    out.append(self._chunk([choice]))
            if state.blocked:
                out.append(self._chunk([self.stop_choice(i)]))
        return b"".join(out) + (self._maybe_done() if done else b"")

    def _chunk(self, choices: list[JsonObject]) -> bytes:
        if not choices:
            return b""
        last = self._last
        obj: JsonObject = {k: last[k] for k in _HEAD if k in last}
        obj["choices"] = choices
        if any(c.get("finish_reason") for c in choices):
            attach_report(obj, self._guard)
        return encode_json(obj)

    def _maybe_done(self) -> bytes:
        states = self._choices.values()
        if self._done or self._finished or len(states) < self._expected:
            return b""
        blocked = False
        for s in states:
            if not s.ended:
                return b""
            blocked = blocked or s.blocked
        if blocked:
            self._finished = True
            return DONE
        return b""
