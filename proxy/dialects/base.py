"""The contract between a wire-format dialect and whatever guards its text.

A dialect knows one wire format (OpenAI chat, Anthropic Messages, ...): where the
model's output text sits in each event, how a filtered answer ends, what an error
looks like.  It knows nothing about matching: it hands every piece of output text
to a ``TextFilter`` and writes back only what the filter releases.  No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

JsonObject = dict[str, Any]


class Sent(NamedTuple):
    """The guard's answer to one push or close: what to send now, and whether that ends it."""

    text: str  # the text now safe to send (held, released or redacted)
    blocked: bool  # the stream is blocked from now on: nothing more will be released


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a request carries (``Dialect.conversation``): the client's turns, the model's
    earlier replies, and the text the answer continues directly."""

    turns: tuple[str, ...] = ()  # user, system, tool texts, in order
    replies: tuple[str, ...] = ()  # the model's earlier answers, in order
    tail: str = ""  # assistant prefill, completions prompt: the answer goes on from its end

    def __bool__(self) -> bool:
        return bool(self.turns or self.replies or self.tail)


class DialectError(Exception):
    """Upstream data that the dialect cannot make sense of (bad JSON, wrong shape)."""


class StrayText(DialectError):
    """Upstream put protected text in a field no stream guards: the response ends here."""


class TextFilter(Protocol):
    """Decides, per output text stream, which text may reach the client.

    A *stream key* names one independent text stream of a response: a choice
    (``"0"``), a content block (``"block/1"``), a Responses output item, a tool
    call's arguments (``"0/tool/2"``).  Keys are chosen by the dialect; each new
    key starts a fresh matcher session.
    """

    def push(self, key: str, text: str) -> Sent:
        """Feed the next output text of ``key``; return the text now safe to send.

        The text may be shorter than ``text`` (held back), longer (earlier held
        text released), or rewritten (redacted).  ``blocked``: a blocking finding
        ended the stream (the text is what came before it); further pushes
        return ``Sent("", True)``.
        """
        ...

    def close(self, key: str) -> Sent:
        """End of stream ``key``: settle all held text and return what may be sent."""
        ...

    def blocked(self, key: str) -> bool:
        """True once a blocking finding ended stream ``key``."""
        ...

    def released(self, key: str) -> str:
        """All text sent so far on ``key`` (for fields that repeat the full text)."""
        ...

    def altered(self, key: str) -> bool:
        """Whether ``key``'s released text is no longer what was pushed (redacted or blocked).

        The guard holds each stream's text, so a dialect need not keep a copy to compare.
        """
        ...

    def report(self) -> JsonObject | None:
        """The ``copyguard`` object to attach to the response, or None if nothing to say."""
        ...

    def stray(self, path: str, text: str) -> bool:
        """Check a string no stream guards (see ``_strays``) with the text before it on ``path``.

        Nothing is held back; True if ``text`` completes a protected run whose work blocks or
        redacts, in which case the response must end before ``text`` is sent.
        """
        ...


class StreamRewriter(Protocol):
    """Rewrites one streamed response, upstream bytes in, client bytes out."""

    @property
    def finished(self) -> bool:
        """True once the client's response is complete (e.g. blocked): stop reading upstream."""
        ...

    def feed(self, data: bytes) -> bytes:
        """Take the next upstream bytes (split anywhere); return bytes for the client."""
        ...

    def flush(self) -> bytes:
        """Upstream ended: settle every stream and return the last bytes for the client."""
        ...

    def fail(self, message: str) -> bytes:
        """The stream broke (upstream fault, timeout): settle, end in the format's error shape."""
        ...

    def unread(self) -> bytes:
        """Upstream bytes taken in but not yet part of a complete event (the decoder's state).

        Where a stream passed on unscanned after a matcher failure (fail-open) resumes.
        """
        ...


class Dialect(Protocol):
    """One wire format: request inspection, response rewriting, error shapes."""

    @property
    def name(self) -> str:
        """Short name for logs and metric labels, e.g. "openai-chat"."""
        ...

    @property
    def paths(self) -> tuple[str, ...]:
        """The request paths this format is served on."""
        ...

    @property
    def stream_media_type(self) -> str:
        """Content type of a streamed response."""
        ...

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        """Whether the client asked for a streamed response."""
        ...

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        """The text ``request`` carries: earlier turns, replies, a prefill or prompt."""
        ...

    def answers_as_stream(self, content_type: str) -> bool:
        """Whether an upstream answer of ``content_type`` to a stream request is a stream.

        Servers that ignore ``stream`` answer with one JSON body: that is guarded whole.
        """
        ...

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> StreamRewriter:
        """A rewriter for one streamed response to ``request``; no event may exceed the bound."""
        ...

    def rewrite_body(self, body: bytes, guard: TextFilter) -> bytes:
        """Rewrite a complete (non-streamed) JSON response; return ``body`` itself if unchanged.

        Raises ``DialectError`` if the body is not the format's JSON.
        """
        ...

    def error_body(self, status: int, message: str) -> bytes:
        """A complete JSON error body in the format's own shape."""
        ...
