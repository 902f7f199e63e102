"""What every dialect repeats, written once: a dialect module declares only its format.

- ``JsonDialect``: the ``Dialect`` around a format's JSON bodies.  A subclass sets ``name``,
  ``paths``, ``body_fields`` (what of a whole body it reads or knows; every other string is
  checked as a stray) and ``rewriter`` (its ``EventStream`` class), and writes ``rewrite``
  (guard the texts of a parsed body in place) and ``error_body``.  ``streams_by_default``
  gives ``wants_stream`` its one meaning: the request's ``"stream"`` boolean, else the
  format's default.
- ``EventStream``: the ``StreamRewriter`` shell around a decoder (SSE events, NDJSON lines,
  ...).  A subclass writes ``event`` (one decoded event in, client bytes out) and ``end``
  (settle what is safe, then the format's error); the shell stops at ``finished``.
- ``load_object``, ``whole_text``, ``close_all``, ``attach_report``: the small steps all
  formats take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import orjson

from proxy.dialects._strays import Fields, check_strays
from proxy.dialects.base import (
    Conversation,
    DialectError,
    JsonObject,
    Sent,
    StreamRewriter,
    TextFilter,
)

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)


def load_object(data: bytes | str) -> JsonObject:
    """Parse upstream JSON that must be an object, or raise ``DialectError``."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DialectError(f"invalid JSON from upstream: {exc}") from None
    if not isinstance(obj, dict):
        raise DialectError("upstream JSON is not an object")
    return obj


def stream_flag(request: Mapping[str, Any], default: bool) -> bool:
    """``request["stream"]``: a boolean, or ``default`` when absent or null."""
    stream = request.get("stream")
    if stream is None:
        return default
    if not isinstance(stream, bool):
        raise DialectError('"stream" must be a boolean')
    return stream


def whole_text(guard: TextFilter, key: str, text: str) -> Sent:
    """Guard a text that arrives whole (a body's field, a tool call's arguments)."""
    first = guard.push(key, text)
    rest = guard.close(key)
    return Sent(first.text + rest.text, first.blocked or rest.blocked)


def close_all(guard: TextFilter, keys: Iterable[str]) -> tuple[dict[str, str], bool]:
    """Close every stream of ``keys``: the text each releases (if any), and whether any blocked."""
    texts: dict[str, str] = {}
    blocked = False
    for key in keys:
        text, now_blocked = guard.close(key)
        if text:
            texts[key] = text
        blocked = blocked or now_blocked
    return texts, blocked


def attach_report(obj: JsonObject, guard: TextFilter) -> bool:
    """Put the guard's ``copyguard`` report on ``obj``; whether there was one."""
    report = guard.report()
    if report is None:
        return False
    obj["copyguard"] = report
    return True


class RewriterClass(Protocol):
    """How a dialect makes the rewriter of one streamed response (its ``EventStream`` class)."""

    def __call__(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int, /
    ) -> StreamRewriter: ...


class JsonDialect:
    """A ``Dialect`` whose bodies are JSON objects (see the module docstring)."""

    name: ClassVar[str]
    paths: ClassVar[tuple[str, ...]]
    stream_media_type: ClassVar[str] = "text/event-stream"
    streams_by_default: ClassVar[bool] = False
    body_fields: ClassVar[Fields]
    rewriter: ClassVar[RewriterClass]

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        """Whether the client asked for a streamed response."""
        return stream_flag(request, self.streams_by_default)

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        """Where the format keeps the conversation a request carries (none by default)."""
        return Conversation()

    def answers_as_stream(self, content_type: str) -> bool:
        """A JSON body answering a stream request is a whole answer (the server ignored it)."""
        return content_type != "application/json"

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> StreamRewriter:
        """A rewriter for one streamed response to ``request``."""
        return self.rewriter(guard, request, max_event_bytes)

    def rewrite_body(self, body: bytes, guard: TextFilter) -> bytes:
        """Guard a complete response; ``body`` itself when nothing changed."""
        obj = load_object(body)
        check_strays(obj, self.body_fields, guard)
        changed = self.rewrite(obj, guard)
        if changed is None:
            return body
        changed = attach_report(obj, guard) or changed
        return orjson.dumps(obj) if changed else body

    def rewrite(self, obj: JsonObject, guard: TextFilter) -> bool | None:
        """Guard every text of a parsed body in place: whether it changed (None: not an answer,
        e.g. an error object, which goes back as it came)."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> bytes:
        """A complete JSON error body in the format's own shape."""
        raise NotImplementedError


class Decoder(Protocol[E_co]):
    """Frames upstream bytes (split anywhere) into events: ``feed()`` then ``flush()``."""

    def feed(self, data: bytes) -> Sequence[E_co]: ...

    def flush(self) -> Sequence[E_co]: ...

    def unread(self) -> bytes:
        """The bytes of the event under way (fed, not yet returned as an event)."""
        ...


class EventStream(Generic[E]):
    """The ``StreamRewriter`` shell: decode, rewrite event by event, stop once finished."""

    ENDED_EARLY: ClassVar[str] = "upstream stream ended before the response was complete"

    def __init__(self, guard: TextFilter, decoder: Decoder[E]) -> None:
        self._guard = guard
        self._decoder = decoder
        self._finished = False
        self._unsent = b""

    @property
    def finished(self) -> bool:
        """True once the client's response is complete: stop reading upstream."""
        return self._finished

    def feed(self, data: bytes) -> bytes:
        """Rewrite the events ``data`` completes."""
        return b"" if self._finished else self._run(self._decoder.feed(data))

    def flush(self) -> bytes:
        """Upstream ended: the last events, then ``ended`` if the format's end did not come."""
        if self._finished:
            return b""
        out = self._run(self._decoder.flush())
        return out if self._finished else out + self.ended()

    def fail(self, message: str) -> bytes:
        """The stream broke: what the events before the break gave, settle, end in the
        format's error shape."""
        unsent, self._unsent = self._unsent, b""
        return unsent + (b"" if self._finished else self.end(message))

    def unread(self) -> bytes:
        """Upstream bytes of the event under way (the decoder's; no other code frames events)."""
        return self._decoder.unread()

    def _run(self, events: Sequence[E]) -> bytes:
        if len(events) == 1:  # the usual read: one event
            return self.event(events[0])
        out = []
        try:
            for event in events:
                out.append(self.event(event))
                if self._finished:
                    break
        except Exception:
            # The events before the bad one were rewritten (their text counted as sent, an
            # array's "[" among them): ``fail`` sends them before the error.
            self._unsent = b"".join(out)
            raise
        return b"".join(out)

    # -- what a format writes ---------------------------------------------------------

    def event(self, event: E) -> bytes:
        """One decoded event in, the bytes the client gets for it out."""
        raise NotImplementedError

    def end(self, message: str) -> bytes:
        """Settle every stream, then end with the format's error (``message``); set finished."""
        raise NotImplementedError

    def ended(self) -> bytes:
        """Upstream stopped without the format's last event (override if that is normal)."""
        return self.end(self.ENDED_EARLY)
