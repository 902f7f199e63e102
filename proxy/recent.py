"""Responses ``previous_response_id``: what the proxy remembers of answers it gave.

A Responses request may carry its history by reference: ``previous_response_id`` names an
earlier response the model server stored.  The proxy saw that response go out, so it keeps
the protected pieces of it (and of the conversation it continued), by response id, in a
bounded LRU; a request naming the id gets them back as earlier replies.  Nothing else is
kept: a clean answer leaves no entry.  The id is read from the bytes going to the client
(``IdSniffer`` wraps the dialect for one response).  No aiohttp here.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from proxy.dialects.base import Conversation, Dialect, StreamRewriter, TextFilter

RESPONSES = "openai-responses"
_ID = re.compile(rb'"id"\s*:\s*"(resp_[A-Za-z0-9_-]{1,200})"')
_LOOK = 64 << 10  # bytes of a response searched for its id (it comes first)


class RecentReplies:
    """Protected pieces by response id: at most ``max_entries`` and ``max_chars`` in all."""

    def __init__(self, max_entries: int = 10_000, max_chars: int = 16 << 20) -> None:
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._max_entries, self._max_chars = max_entries, max_chars

    def remember(self, response_id: str, pieces: str) -> None:
        if not pieces or len(pieces) > self._max_chars:
            return
        self._chars += len(pieces) - len(self._entries.pop(response_id, ""))
        self._entries[response_id] = pieces
        while len(self._entries) > self._max_entries or self._chars > self._max_chars:
            _, old = self._entries.popitem(last=False)
            self._chars -= len(old)

    def recall(self, response_id: str) -> str:
        found = self._entries.get(response_id, "")
        if found:
            self._entries.move_to_end(response_id)
        return found


def with_previous(
    conversation: Conversation, payload: Mapping[str, Any], recent: RecentReplies
) -> Conversation:
    """``conversation`` with what the proxy remembers of ``previous_response_id`` first."""
    previous = payload.get("previous_response_id")
    earlier = recent.recall(previous) if isinstance(previous, str) else ""
    if not earlier:
        return conversation
    return Conversation(conversation.turns, (earlier, *conversation.replies), conversation.tail)


class IdSniffer:
    """A dialect wrapper that notes the response id in the bytes going to the client."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._seen = 0
        self.response_id: str | None = None

    @property
    def name(self) -> str:
        return self._dialect.name

    @property
    def paths(self) -> tuple[str, ...]:
        return self._dialect.paths

    @property
    def stream_media_type(self) -> str:
        return self._dialect.stream_media_type

    def wants_stream(self, request: Mapping[str, Any]) -> bool:
        return self._dialect.wants_stream(request)

    def conversation(self, request: Mapping[str, Any]) -> Conversation:
        return self._dialect.conversation(request)

    def answers_as_stream(self, content_type: str) -> bool:
        return self._dialect.answers_as_stream(content_type)

    def stream_rewriter(
        self, guard: TextFilter, request: Mapping[str, Any], max_event_bytes: int = 1 << 20
    ) -> StreamRewriter:
        return _Sniffing(self, self._dialect.stream_rewriter(guard, request, max_event_bytes))

    def rewrite_body(self, body: bytes, guard: TextFilter) -> bytes:
        return self.note(self._dialect.rewrite_body(body, guard))

    def error_body(self, status: int, message: str) -> bytes:
        return self._dialect.error_body(status, message)

    def note(self, data: bytes) -> bytes:
        if self.response_id is None and self._seen < _LOOK and data:
            found = _ID.search(data[:_LOOK])
            self._seen += len(data)
            if found:
                self.response_id = found.group(1).decode()
        return data


class _Sniffing:
    def __init__(self, sniffer: IdSniffer, inner: StreamRewriter) -> None:
        self._sniffer, self._inner = sniffer, inner

    @property
    def finished(self) -> bool:
        return self._inner.finished

    def feed(self, data: bytes) -> bytes:
        return self._sniffer.note(self._inner.feed(data))

    def flush(self) -> bytes:
        return self._sniffer.note(self._inner.flush())

    def fail(self, message: str) -> bytes:
        return self._inner.fail(message)

    def unread(self) -> bytes:
        return self._inner.unread()
